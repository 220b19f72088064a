import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { backoffDelay, sleep } from './backoff.ts';
import { ContainerLog } from './containerLogs.ts';
import { ContainerSlot, type PodReporter } from './containerSlot.ts';
import type { EventRecorder } from './eventRecorder.ts';
import type { ImageDefinition } from './imageCatalog.ts';
import type { ImageManager } from './imageManager.ts';
import { ContainerConfigError, containerArgv, containerEnvironment } from './podEnvironment.ts';
import { MountError, prepareVolumes, readOnlyRootFilesystem, volumeBinds } from './podVolumes.ts';
import { probeReadiness } from './prober.ts';
import { createPodSandbox, startContainer, type PodSandbox } from './sandbox.ts';
import { StatusManager } from './statusManager.ts';
import { schedulePod } from '../scheduler/scheduler.ts';
import { timestamp, type KubeObject, type ObjectStore } from '../store/objectStore.ts';
import { resourceTypeOfKind } from '../resources.ts';
import { text } from '../jsonValues.ts';

type Json = Record<string, unknown>;

const pods = resourceTypeOfKind('Pod');

export interface PodWorkerContext {
  store: ObjectStore;
  events: EventRecorder;
  images: ImageManager;
  nodeName: string;
  hostIP: string;
  stateDir: string;
  helpersDir: string;
  /** First back-off after a crash or failed pull; doubles up to 5 minutes, as the kubelet's. */
  backoffBaseMs: number;
  /** Extra delay before each pod starts (fault injection). */
  startDelayMs: () => number;
  onFinished: (uid: string) => void;
}

/**
 * Runs one pod through a kubelet's lifecycle: schedule, sandbox, image pull, config, start,
 * restarts with back-off, readiness, deadline, graceful termination. It writes the pod's status
 * and Events into the store as a kubelet writes them to the apiserver.
 */
export class PodWorker implements PodReporter {
  readonly slots: ContainerSlot[];
  sandbox: PodSandbox | undefined;
  private readonly lifetime = new AbortController();
  /** Aborted when activeDeadlineSeconds has passed: the pod ends Failed but stays in the store. */
  private readonly deadline = new AbortController();
  /** Aborted by deletion or the deadline: nothing more is started, waits end. */
  private readonly active = AbortSignal.any([this.lifetime.signal, this.deadline.signal]);
  private terminating: Promise<void> | undefined;
  private lifecycle: Promise<void> | undefined;
  private readonly podDir: string;
  private podIP = '';
  private startTime: string | undefined;
  private readonly status: StatusManager;
  private volumePaths = new Map<string, string>();
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(
    private pod: KubeObject,
    private readonly context: PodWorkerContext,
  ) {
    const spec = pod.spec as Json;
    this.slots = [
      ...((spec.initContainers as Json[] | undefined) ?? []).map((c) => new ContainerSlot(c, true)),
      ...(spec.containers as Json[]).map((c) => new ContainerSlot(c, false)),
    ];
    this.podDir = join(context.stateDir, 'pods', pod.metadata.uid ?? 'unknown');
    this.status = new StatusManager(context.store, context.hostIP);
  }

  get namespace(): string {
    return this.pod.metadata.namespace ?? 'default';
  }

  get name(): string {
    return this.pod.metadata.name ?? '';
  }

  get uid(): string {
    return this.pod.metadata.uid ?? '';
  }

  slot(name: string): ContainerSlot | undefined {
    return (
      this.slots.find((slot) => slot.name === name && !slot.init) ??
      this.slots.find((slot) => slot.name === name)
    );
  }

  /** Runs the pod until it ends or is terminated; termination waits for this to unwind. */
  run(): Promise<void> {
    this.lifecycle ??= this.runLifecycle();
    return this.lifecycle;
  }

  private async runLifecycle(): Promise<void> {
    try {
      await this.schedule();
      await sleep(this.context.startDelayMs(), this.active);
      const sandbox = await createPodSandbox(join(this.podDir, 'sandbox'), this.name);
      if (this.lifetime.signal.aborted) {
        // Deleted while the sandbox was being made: termination found nothing to stop.
        await sandbox.stop();
        return;
      }
      this.sandbox = sandbox;
      this.podIP = sandbox.podIP;
      this.startTime = timestamp();
      this.armDeadline();
      this.publish();
      this.volumePaths = await this.retrying('FailedMount', () =>
        prepareVolumes(this.context.store, this.pod, this.podDir),
      );
      for (const slot of this.slots.filter((s) => s.init)) {
        await this.runContainer(slot);
        if (slot.state && 'terminated' in slot.state && slot.state.terminated.exitCode !== 0) {
          this.publish();
          return;
        }
      }
      await Promise.all(this.slots.filter((s) => !s.init).map((slot) => this.runContainer(slot)));
    } catch (error) {
      if (!this.active.aborted) {
        throw error;
      }
    } finally {
      if (!this.lifetime.signal.aborted) {
        await this.releaseSandbox();
      }
    }
  }

  /** Starts termination: SIGTERM, SIGKILL after the grace period, then the pod leaves the store. */
  terminate(gracePeriodSeconds: number, removeFromStore: boolean): Promise<void> {
    this.terminating ??= this.doTerminate(gracePeriodSeconds, removeFromStore);
    return this.terminating;
  }

  /** Kills every container at once (a fault): exit 137 with the given reason. */
  kill(reason: string): void {
    for (const slot of this.slots) {
      if (slot.process && 'running' in slot.state) {
        slot.killReason = reason;
        slot.process.kill('SIGKILL');
      }
    }
  }

  private async doTerminate(gracePeriodSeconds: number, removeFromStore: boolean): Promise<void> {
    this.lifetime.abort();
    clearTimeout(this.deadlineTimer);
    try {
      await this.stopContainers(gracePeriodSeconds);
      // A sandbox or container may still be being set up; its files must not be removed under it.
      await this.lifecycle?.catch(() => undefined);
      await this.releaseSandbox();
      this.publish();
    } finally {
      // Like a kubelet, the pod is finalized even when part of the teardown failed.
      if (removeFromStore) {
        const current = this.context.store.find(pods, this.namespace, this.name);
        if (current && current.metadata.uid === this.uid) {
          this.context.store.remove(pods, this.namespace, this.name);
        }
      }
      this.context.onFinished(this.uid);
      await rm(this.podDir, { recursive: true, force: true, maxRetries: 5 });
    }
  }

  private async stopContainers(gracePeriodSeconds: number): Promise<void> {
    const running = this.slots.filter((slot) => slot.process && 'running' in slot.state);
    await Promise.all(
      running.map(async (slot) => {
        const process = slot.process!;
        this.event('Normal', 'Killing', `Stopping container ${slot.name}`, slot);
        if (gracePeriodSeconds <= 0) {
          process.kill('SIGKILL');
        } else {
          process.kill('SIGTERM');
          const timer = setTimeout(() => process.kill('SIGKILL'), gracePeriodSeconds * 1000);
          await process.exit;
          clearTimeout(timer);
        }
        await process.exit;
      }),
    );
    // Slots still waiting (pull back-off, config errors) end with the pod.
    for (const slot of this.slots) {
      slot.finished = true;
    }
  }

  private async releaseSandbox(): Promise<void> {
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    await sandbox?.stop();
  }

  private async schedule(): Promise<void> {
    const { store, events, nodeName } = this.context;
    const bound = await schedulePod(store, events, this.pod, nodeName, this.active);
    this.active.throwIfAborted();
    if (!bound) {
      throw new Error('the pod left the store before it was scheduled');
    }
    this.pod = bound;
    this.status.transition('PodScheduled', 'True');
    this.publish();
  }

  private async runContainer(slot: ContainerSlot): Promise<void> {
    const restartPolicy = text((this.pod.spec as Json).restartPolicy, 'Always');
    for (let attempt = 0; !this.active.aborted; attempt++) {
      const image = await this.context.images.pull(slot, this, this.active);
      slot.env = await this.retrying(
        'Failed',
        () => containerEnvironment(this.context.store, this.pod, slot.spec, image.env),
        slot,
      );
      const exit = await this.startAndWait(slot, image);
      if (this.active.aborted) {
        break;
      }
      const restart = slot.init
        ? exit !== 0 && restartPolicy !== 'Never'
        : restartPolicy === 'Always' || (restartPolicy === 'OnFailure' && exit !== 0);
      if (!restart) {
        break;
      }
      const delay = backoffDelay(this.context.backoffBaseMs, slot.restartCount);
      slot.markBackOff(delay, `${this.name}_${this.namespace}(${this.uid})`);
      this.event(
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${slot.name} in pod ${this.name}_${this.namespace}(${this.uid})`,
        slot,
      );
      this.publish();
      await sleep(delay, this.active);
    }
    slot.finished = true;
    this.publish();
  }

  private async startAndWait(slot: ContainerSlot, image: ImageDefinition): Promise<number> {
    const sandbox = this.sandbox;
    if (!sandbox) {
      throw new Error('pod sandbox is gone');
    }
    const argv = containerArgv(slot.spec, image, slot.env);
    slot.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    slot.previousLog = slot.log;
    const log = new ContainerLog();
    slot.log = log;
    const process = await startContainer({
      sandbox,
      runId: `${slot.name}-${slot.restartCount}`,
      argv,
      env: slot.env,
      workingDir:
        typeof slot.spec.workingDir === 'string' && slot.spec.workingDir
          ? slot.spec.workingDir
          : '/',
      commands: image.commands,
      volumes: [
        ...(image.contents?.directories ?? []).map((directory) => ({
          hostPath: directory,
          mountPath: directory,
          readOnly: true,
        })),
        ...volumeBinds(slot.spec, this.volumePaths),
      ],
      readOnlyRootFilesystem: readOnlyRootFilesystem(slot.spec),
      etcHosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${this.podIP}\t${this.name}\n`,
      onOutput: (chunk) => log.write(chunk),
    });
    if (this.active.aborted && !process.startError) {
      // Deleted (or past the deadline) while the container was starting: the stop did not see it.
      process.kill('SIGKILL');
      await process.exit;
      log.end();
      return 137;
    }
    slot.process = process;
    const startedAt = timestamp();
    this.event('Normal', 'Created', `Created container: ${slot.name}`, slot);
    const probeLoop = new AbortController();
    const exitPromise = process.exit;
    if (process.startError) {
      await exitPromise;
      log.end();
      const message = slot.markStartError(process.startError);
      this.event('Warning', 'Failed', `Error: ${message}`, slot);
      this.publish();
      return 128;
    }
    slot.markRunning(startedAt);
    this.event('Normal', 'Started', `Started container ${slot.name}`, slot);
    this.publish();
    if (slot.spec.readinessProbe) {
      void probeReadiness(
        slot.spec.readinessProbe as Json,
        {
          slot,
          sandbox: () => this.sandbox,
          helpersDir: this.context.helpersDir,
          reporter: this,
        },
        probeLoop.signal,
      );
    }
    const result = await exitPromise;
    probeLoop.abort();
    await new Promise((resolve) => setImmediate(resolve));
    log.end();
    slot.markExited(result, startedAt);
    this.publish();
    return result.exitCode;
  }

  private armDeadline(): void {
    const deadline = (this.pod.spec as Json).activeDeadlineSeconds;
    if (typeof deadline !== 'number') {
      return;
    }
    this.deadlineTimer = setTimeout(() => {
      this.deadline.abort();
      this.event(
        'Warning',
        'DeadlineExceeded',
        'Pod was active on the node longer than the specified deadline',
      );
      const grace = Number((this.pod.spec as Json).terminationGracePeriodSeconds ?? 30);
      // The lifecycle unwinds once its containers are stopped, and releases the sandbox itself.
      this.stopContainers(grace)
        .then(() => this.publish())
        .catch((error: unknown) =>
          process.stderr.write(
            `emulator kubelet: stopping pod ${this.namespace}/${this.name} at its deadline failed: ${String(error)}\n`,
          ),
        );
    }, deadline * 1000);
  }

  /** Retries `attempt` until it succeeds, reporting config and mount errors as the kubelet does. */
  private async retrying<T>(
    reason: 'Failed' | 'FailedMount',
    attempt: () => T | Promise<T>,
    slot?: ContainerSlot,
  ): Promise<T> {
    for (;;) {
      this.active.throwIfAborted();
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof ContainerConfigError || error instanceof MountError)) {
          throw error;
        }
        if (slot && error instanceof ContainerConfigError) {
          slot.state = {
            waiting: { reason: 'CreateContainerConfigError', message: error.message },
          };
          this.event('Warning', reason, `Error: ${error.message}`, slot);
        } else {
          this.event('Warning', reason, error.message);
        }
        this.publish();
        await sleep(Math.min(2000, this.context.backoffBaseMs), this.active);
      }
    }
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string, slot?: ContainerSlot): void {
    const current = this.context.store.find(pods, this.namespace, this.name) ?? this.pod;
    this.context.events.record(current, {
      type,
      reason,
      message,
      source: { component: 'kubelet', host: this.context.nodeName },
      ...(slot ? { fieldPath: slot.fieldPath } : {}),
    });
  }

  /** Writes the pod's status as the kubelet's status manager would. */
  publish(): void {
    const updated = this.status.publish(this.pod, {
      slots: this.slots,
      sandboxReady: this.sandbox !== undefined,
      deadlineExceeded: this.deadline.signal.aborted,
      podIP: this.podIP,
      startTime: this.startTime,
    });
    if (updated) {
      this.pod = updated;
    }
  }
}
