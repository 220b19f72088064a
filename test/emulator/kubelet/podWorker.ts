import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerLog } from './containerLogs.ts';
import type { EventRecorder } from './eventRecorder.ts';
import type { ImageCatalog, ImageDefinition } from './imageCatalog.ts';
import { timestamp, type KubeObject, type ObjectStore } from '../store/objectStore.ts';
import { ContainerConfigError, containerArgv, containerEnvironment } from './podEnvironment.ts';
import { MountError, prepareVolumes, volumeBinds } from './podVolumes.ts';
import { runProbe } from './prober.ts';
import { resourceTypeOfKind } from '../resources.ts';
import { text } from '../jsonValues.ts';
import {
  createPodSandbox,
  startContainer,
  type ContainerProcess,
  type PodSandbox,
} from './sandbox.ts';

type Json = Record<string, unknown>;

const pods = resourceTypeOfKind('Pod');

export interface PodWorkerContext {
  store: ObjectStore;
  events: EventRecorder;
  images: ImageCatalog;
  nodeName: string;
  hostIP: string;
  stateDir: string;
  helpersDir: string;
  pulledImages: Set<string>;
  /** First back-off after a crash or failed pull; doubles up to 5 minutes, as the kubelet's. */
  backoffBaseMs: number;
  /** Extra delay before each pod starts (fault injection). */
  startDelayMs: () => number;
  onFinished: (uid: string) => void;
}

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        reason: string;
        message?: string;
        signal?: number;
        startedAt?: string;
        finishedAt: string;
        containerID?: string;
      };
    };

/** One container of a pod as the kubelet tracks it across restarts. */
export class ContainerSlot {
  state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: ContainerState | Record<string, never> = {};
  restartCount = 0;
  ready = false;
  started = false;
  everStarted = false;
  process: ContainerProcess | undefined;
  containerID: string | undefined;
  env: Record<string, string> = {};
  log: ContainerLog | undefined;
  previousLog: ContainerLog | undefined;
  killReason: string | undefined;
  finished = false;

  constructor(
    readonly spec: Json,
    readonly init: boolean,
  ) {}

  get name(): string {
    return String(this.spec.name);
  }
}

const signalNumbers: Record<string, number> = {
  SIGKILL: 9,
  SIGTERM: 15,
  SIGINT: 2,
  SIGHUP: 1,
  SIGSEGV: 11,
  SIGABRT: 6,
};

/**
 * Runs one pod through a kubelet's lifecycle: schedule, sandbox, image pull, config, start,
 * restarts with back-off, readiness, deadline, graceful termination. It writes the pod's status
 * and Events into the store as a kubelet writes them to the apiserver.
 */
export class PodWorker {
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
  private readonly transitions = new Map<string, { status: string; time: string }>();
  private volumePaths = new Map<string, string>();
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(
    private pod: KubeObject,
    private readonly context: PodWorkerContext,
    podIP: string,
  ) {
    const spec = pod.spec as Json;
    this.slots = [
      ...((spec.initContainers as Json[] | undefined) ?? []).map((c) => new ContainerSlot(c, true)),
      ...(spec.containers as Json[]).map((c) => new ContainerSlot(c, false)),
    ];
    this.podDir = join(context.stateDir, 'pods', pod.metadata.uid ?? 'unknown');
    this.podIP = podIP;
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
      this.schedule();
      await this.sleep(this.context.startDelayMs());
      const sandbox = await createPodSandbox(join(this.podDir, 'sandbox'), this.name);
      if (this.lifetime.signal.aborted) {
        // Deleted while the sandbox was being made: termination found nothing to stop.
        await sandbox.stop();
        return;
      }
      this.sandbox = sandbox;
      this.startTime = timestamp();
      this.armDeadline();
      this.publish();
      this.volumePaths = await this.retrying('FailedMount', () =>
        prepareVolumes(
          this.context.store,
          this.pod,
          this.podDir,
          join(this.context.stateDir, 'claims'),
        ),
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

  private schedule(): void {
    const updated = this.context.store.mutate(pods, this.namespace, this.name, (pod) => {
      (pod.spec as Json).nodeName = this.context.nodeName;
    });
    if (updated) {
      this.pod = updated;
    }
    this.transition('PodScheduled', 'True');
    this.event(
      'Normal',
      'Scheduled',
      `Successfully assigned ${this.namespace}/${this.name} to ${this.context.nodeName}`,
      undefined,
      'default-scheduler',
    );
    this.publish();
  }

  private async runContainer(slot: ContainerSlot): Promise<void> {
    const restartPolicy = text((this.pod.spec as Json).restartPolicy, 'Always');
    for (let attempt = 0; !this.active.aborted; attempt++) {
      const image = await this.pullImage(slot);
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
      const delay = Math.min(
        this.context.backoffBaseMs * 2 ** Math.min(slot.restartCount, 10),
        300_000,
      );
      slot.lastState = slot.state;
      slot.restartCount++;
      slot.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${formatDuration(delay)} restarting failed container=${slot.name} pod=${this.name}_${this.namespace}(${this.uid})`,
        },
      };
      this.event(
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${slot.name} in pod ${this.name}_${this.namespace}(${this.uid})`,
        slot,
      );
      this.publish();
      await this.sleep(delay);
    }
    slot.finished = true;
    this.publish();
  }

  private async pullImage(slot: ContainerSlot): Promise<ImageDefinition> {
    const reference = String(slot.spec.image);
    const policy = text(slot.spec.imagePullPolicy, 'IfNotPresent');
    for (let failures = 0; ; failures++) {
      this.active.throwIfAborted();
      const resolution = this.context.images.resolve(reference);
      if (resolution.ok && policy !== 'Always' && this.context.pulledImages.has(reference)) {
        this.event(
          'Normal',
          'Pulled',
          `Container image "${reference}" already present on machine`,
          slot,
        );
        return resolution.image;
      }
      if (policy === 'Never') {
        slot.state = {
          waiting: {
            reason: 'ErrImageNeverPull',
            message: `Container image "${reference}" is not present with pull policy of Never`,
          },
        };
        this.event('Warning', 'ErrImageNeverPull', slot.state.waiting.message!, slot);
        this.publish();
        await this.sleep(this.context.backoffBaseMs);
        continue;
      }
      this.event('Normal', 'Pulling', `Pulling image "${reference}"`, slot);
      const started = Date.now();
      await this.sleep(resolution.ok ? (resolution.image.pullDelayMs ?? 0) : 0);
      if (resolution.ok) {
        this.context.pulledImages.add(reference);
        const took = `${Date.now() - started}ms`;
        this.event(
          'Normal',
          'Pulled',
          `Successfully pulled image "${reference}" in ${took} (${took} including waiting). Image size: 0 bytes.`,
          slot,
        );
        return resolution.image;
      }
      this.event(
        'Warning',
        'Failed',
        `Failed to pull image "${reference}": ${resolution.reason}`,
        slot,
      );
      this.event('Warning', 'Failed', 'Error: ErrImagePull', slot);
      slot.state = { waiting: { reason: 'ErrImagePull', message: resolution.reason } };
      this.publish();
      await this.sleep(Math.min(1000, this.context.backoffBaseMs));
      const message = `Back-off pulling image "${reference}"`;
      slot.state = { waiting: { reason: 'ImagePullBackOff', message } };
      this.event('Normal', 'BackOff', message, slot);
      this.event('Warning', 'Failed', 'Error: ImagePullBackOff', slot);
      this.publish();
      await this.sleep(Math.min(this.context.backoffBaseMs * 2 ** failures, 300_000));
    }
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
      volumes: volumeBinds(slot.spec, this.volumePaths),
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
      slot.process = undefined;
      log.end();
      const message = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${process.startError}: unknown`;
      slot.state = {
        terminated: {
          exitCode: 128,
          reason: 'StartError',
          message,
          startedAt: '1970-01-01T00:00:00Z',
          finishedAt: timestamp(),
          containerID: slot.containerID,
        },
      };
      this.event('Warning', 'Failed', `Error: ${message}`, slot);
      this.publish();
      return 128;
    }
    slot.state = { running: { startedAt } };
    slot.started = true;
    slot.everStarted = true;
    slot.ready = !slot.spec.readinessProbe;
    this.event('Normal', 'Started', `Started container ${slot.name}`, slot);
    this.publish();
    if (slot.spec.readinessProbe) {
      void this.probeReadiness(slot, slot.spec.readinessProbe as Json, probeLoop.signal);
    }
    const result = await exitPromise;
    probeLoop.abort();
    await new Promise((resolve) => setImmediate(resolve));
    log.end();
    slot.process = undefined;
    slot.started = false;
    slot.ready = false;
    const reason = slot.killReason ?? (result.exitCode === 0 ? 'Completed' : 'Error');
    slot.killReason = undefined;
    slot.state = {
      terminated: {
        exitCode: result.exitCode,
        reason,
        ...(result.signal ? { signal: signalNumbers[result.signal] ?? 0 } : {}),
        startedAt,
        finishedAt: timestamp(),
        containerID: slot.containerID,
      },
    };
    this.publish();
    return result.exitCode;
  }

  private async probeReadiness(
    slot: ContainerSlot,
    probe: Json,
    signal: AbortSignal,
  ): Promise<void> {
    const period = Number(probe.periodSeconds ?? 10) * 1000;
    const successThreshold = Number(probe.successThreshold ?? 1);
    const failureThreshold = Number(probe.failureThreshold ?? 3);
    let successes = 0;
    let failures = 0;
    await this.sleep(Number(probe.initialDelaySeconds ?? 0) * 1000, signal);
    while (!signal.aborted && slot.process) {
      const outcome = await runProbe(probe, {
        sandbox: this.sandbox,
        containerPid: slot.process.pid,
        env: slot.env,
        helpersDir: this.context.helpersDir,
      });
      if (signal.aborted) {
        return;
      }
      if (outcome.ok) {
        failures = 0;
        if (++successes >= successThreshold && !slot.ready) {
          slot.ready = true;
          this.publish();
        }
      } else {
        successes = 0;
        this.event('Warning', 'Unhealthy', `Readiness probe failed: ${outcome.message}`, slot);
        if (++failures >= failureThreshold && slot.ready) {
          slot.ready = false;
          this.publish();
        }
      }
      await this.sleep(period, signal);
    }
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
        await this.sleep(Math.min(2000, this.context.backoffBaseMs));
      }
    }
  }

  private sleep(ms: number, signal: AbortSignal = this.active): Promise<void> {
    if (ms <= 0 || signal.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private event(
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    slot?: ContainerSlot,
    component = 'kubelet',
  ): void {
    const current = this.context.store.find(pods, this.namespace, this.name) ?? this.pod;
    this.context.events.record(current, {
      type,
      reason,
      message,
      source: component === 'kubelet' ? { component, host: this.context.nodeName } : { component },
      ...(slot
        ? { fieldPath: `spec.${slot.init ? 'initContainers' : 'containers'}{${slot.name}}` }
        : {}),
    });
  }

  private transition(type: string, status: string): void {
    const previous = this.transitions.get(type);
    if (!previous || previous.status !== status) {
      this.transitions.set(type, { status, time: timestamp() });
    }
  }

  private phase(): string {
    const main = this.slots.filter((slot) => !slot.init);
    if (this.deadline.signal.aborted) {
      return 'Failed';
    }
    const initFailed = this.slots.some(
      (s) => s.init && s.finished && 'terminated' in s.state && s.state.terminated.exitCode !== 0,
    );
    if (initFailed) {
      return 'Failed';
    }
    const done = main.every((slot) => slot.finished && 'terminated' in slot.state);
    if (done) {
      return main.every(
        (slot) => 'terminated' in slot.state && slot.state.terminated.exitCode === 0,
      )
        ? 'Succeeded'
        : 'Failed';
    }
    return main.every((slot) => slot.everStarted) ? 'Running' : 'Pending';
  }

  /** Writes the pod's status as the kubelet's status manager would. */
  publish(): void {
    const main = this.slots.filter((slot) => !slot.init);
    const phase = this.phase();
    const initialized = this.slots
      .filter((s) => s.init)
      .every((s) => 'terminated' in s.state && s.state.terminated.exitCode === 0);
    const containersReady = phase === 'Running' && main.every((slot) => slot.ready);
    this.transition('PodReadyToStartContainers', this.sandbox ? 'True' : 'False');
    this.transition('Initialized', initialized ? 'True' : 'False');
    this.transition('ContainersReady', containersReady ? 'True' : 'False');
    this.transition('Ready', containersReady ? 'True' : 'False');
    const notReady = main.filter((slot) => !slot.ready).map((slot) => slot.name);
    const finished = phase === 'Succeeded' || phase === 'Failed';
    const conditions = [
      'PodReadyToStartContainers',
      'Initialized',
      'Ready',
      'ContainersReady',
      'PodScheduled',
    ]
      .filter((type) => this.transitions.has(type))
      .map((type) => {
        const { status, time } = this.transitions.get(type)!;
        const reason =
          status === 'True'
            ? undefined
            : type === 'Ready' || type === 'ContainersReady'
              ? finished
                ? 'PodCompleted'
                : 'ContainersNotReady'
              : undefined;
        return {
          type,
          status,
          lastProbeTime: null,
          lastTransitionTime: time,
          ...(reason ? { reason } : {}),
          ...(reason === 'ContainersNotReady'
            ? { message: `containers with unready status: [${notReady.join(' ')}]` }
            : {}),
        };
      });
    const statusOf = (slot: ContainerSlot) => ({
      name: slot.name,
      state: slot.state,
      lastState: slot.lastState,
      ready: slot.ready,
      restartCount: slot.restartCount,
      image: String(slot.spec.image),
      imageID: `${String(slot.spec.image)}@sha256:${'0'.repeat(64)}`,
      ...(slot.containerID ? { containerID: slot.containerID } : {}),
      started: slot.started,
    });
    const status: Json = {
      phase,
      conditions,
      hostIP: this.context.hostIP,
      hostIPs: [{ ip: this.context.hostIP }],
      ...(this.startTime
        ? { podIP: this.podIP, podIPs: [{ ip: this.podIP }], startTime: this.startTime }
        : {}),
      ...(this.slots.some((s) => s.init)
        ? { initContainerStatuses: this.slots.filter((s) => s.init).map(statusOf) }
        : {}),
      containerStatuses: main.map(statusOf),
      qosClass: (this.pod.status as Json | undefined)?.qosClass ?? 'BestEffort',
      ...(this.deadline.signal.aborted
        ? {
            reason: 'DeadlineExceeded',
            message: 'Pod was active on the node longer than the specified deadline',
          }
        : {}),
    };
    const updated = this.context.store.mutate(pods, this.namespace, this.name, (pod) => {
      if (pod.metadata.uid === this.uid) {
        pod.status = status;
      }
    });
    if (updated && updated.metadata.uid === this.uid) {
      this.pod = updated;
    }
  }
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${seconds % 60}s` : `${seconds}s`;
}
