import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { badRequest, notFound } from '../apiErrors.ts';
import type { ContainerLog, LogLine } from './containerLogs.ts';
import type { EventRecorder } from './eventRecorder.ts';
import type { ImageCatalog } from './imageCatalog.ts';
import { ImageManager } from './imageManager.ts';
import type { KubeObject, ObjectStore, StoredEvent } from '../store/objectStore.ts';
import type { ContainerSlot } from './containerSlot.ts';
import { PodWorker } from './podWorker.ts';
import { resourceTypeOfKind } from '../resources.ts';
import { text } from '../jsonValues.ts';
import { connectInSandbox, execInContainer, type ExecProcess } from './containerExec.ts';
import type { PodSandbox } from './sandbox.ts';

type Json = Record<string, unknown>;

const pods = resourceTypeOfKind('Pod');

export interface KubeletOptions {
  store: ObjectStore;
  events: EventRecorder;
  images: ImageCatalog;
  stateDir: string;
  helpersDir: string;
  nodeName: string;
  hostIP: string;
  backoffBaseMs: number;
  startDelayMs: () => number;
}

export interface LogRequest {
  container?: string;
  previous: boolean;
  tailLines?: number;
  sinceTime?: Date;
}

/** The node agent: runs every pod in the store as sandboxed processes and serves exec, port-forward and logs. */
export class Kubelet {
  private readonly workers = new Map<string, PodWorker>();
  private readonly finished = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly images: ImageManager;

  constructor(private readonly options: KubeletOptions) {
    this.images = new ImageManager(options.images, options.backoffBaseMs);
  }

  async start(): Promise<void> {
    await mkdir(this.options.stateDir, { recursive: true });
    this.unsubscribe = this.options.store.subscribe(0, (event) => this.onEvent(event));
  }

  /** Kills every pod's processes at once and removes the node's state. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await Promise.all([...this.workers.values()].map((worker) => worker.terminate(0, false)));
    await Promise.all(this.finished);
    await rm(this.options.stateDir, { recursive: true, force: true });
  }

  /** Number of pods whose processes are alive or being torn down. */
  get activePods(): number {
    return this.workers.size;
  }

  private onEvent(event: StoredEvent): void {
    if (event.resource !== 'pods' || this.stopped) {
      return;
    }
    const uid = event.object.metadata.uid ?? '';
    if (event.type === 'ADDED') {
      this.admit(event.object);
    } else if (event.type === 'MODIFIED' && event.object.metadata.deletionTimestamp) {
      const grace = Number(event.object.metadata.deletionGracePeriodSeconds ?? 30);
      this.terminate(uid, grace, true);
    } else if (event.type === 'DELETED') {
      this.terminate(uid, 0, false);
    }
  }

  private terminate(uid: string, gracePeriodSeconds: number, removeFromStore: boolean): void {
    const worker = this.workers.get(uid);
    worker?.terminate(gracePeriodSeconds, removeFromStore).catch((error: unknown) => {
      process.stderr.write(
        `emulator kubelet: tearing down pod ${worker.namespace}/${worker.name} failed: ${String(error)}\n`,
      );
    });
  }

  private admit(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? '';
    const worker = new PodWorker(pod, {
      ...this.options,
      images: this.images,
      onFinished: (finishedUid) => this.workers.delete(finishedUid),
    });
    this.workers.set(uid, worker);
    const run = worker.run().catch((error: unknown) => {
      if (!this.stopped) {
        process.stderr.write(
          `emulator kubelet: pod ${worker.namespace}/${worker.name} failed: ${String(error)}\n`,
        );
      }
    });
    this.finished.add(run);
    void run.finally(() => this.finished.delete(run));
  }

  private worker(namespace: string, name: string): PodWorker {
    const pod = this.options.store.find(pods, namespace, name);
    const worker = pod && this.workers.get(pod.metadata.uid ?? '');
    if (!pod || !worker) {
      throw notFound('pods', name);
    }
    return worker;
  }

  private containerOf(worker: PodWorker, requested: string | undefined): ContainerSlot {
    const main = worker.slots.filter((slot) => !slot.init);
    if (!requested) {
      if (main.length !== 1) {
        throw badRequest(
          `a container name must be specified for pod ${worker.name}, choose one of: [${main.map((s) => s.name).join(' ')}]`,
        );
      }
      return main[0]!;
    }
    const slot = worker.slot(requested);
    if (!slot) {
      throw badRequest(`container ${requested} is not valid for pod ${worker.name}`);
    }
    return slot;
  }

  /** Starts a command in a running container (the kubelet side of pods/exec). */
  exec(
    namespace: string,
    name: string,
    container: string | undefined,
    argv: string[],
    tty: boolean,
  ): { process: ExecProcess; slot: ContainerSlot } {
    const worker = this.worker(namespace, name);
    const pod = this.options.store.get(pods, namespace, name);
    const phase = text((pod.status as Json | undefined)?.phase, 'Pending');
    if (phase === 'Succeeded' || phase === 'Failed') {
      throw badRequest(
        `cannot exec into a container in a completed pod; current phase is ${phase}`,
      );
    }
    const slot = this.containerOf(worker, container);
    if (!slot.process || !('running' in slot.state)) {
      throw badRequest(`unable to upgrade connection: container not found ("${slot.name}")`);
    }
    const sandbox = this.assertSandbox(namespace, name);
    const process = execInContainer({
      sandbox,
      containerPid: slot.process.pid,
      argv,
      env: slot.env,
      tty,
    });
    return { process, slot };
  }

  /** Opens a TCP stream to a port in the pod's network namespace (the kubelet side of pods/portforward). */
  connect(namespace: string, name: string, port: number): ChildProcess {
    const sandbox = this.assertSandbox(namespace, name);
    return connectInSandbox(sandbox, port, join(this.options.helpersDir, 'tcpBridge.py'));
  }

  /** The pod's running sandbox, or the error the kubelet gives for port-forward without one. */
  assertSandbox(namespace: string, name: string): PodSandbox {
    const sandbox = this.worker(namespace, name).sandbox;
    if (!sandbox) {
      throw badRequest(`unable to upgrade connection: pod ${name} does not have a running sandbox`);
    }
    return sandbox;
  }

  /** A container's log for pods/log; `follow` subscribes to the returned log when it is still open. */
  logs(
    namespace: string,
    name: string,
    request: LogRequest,
  ): { lines: LogLine[]; live: ContainerLog | undefined } {
    const worker = this.worker(namespace, name);
    const slot = this.containerOf(worker, request.container);
    const log = request.previous ? slot.previousLog : slot.log;
    if (!log) {
      if (request.previous) {
        throw badRequest(`previous terminated container "${slot.name}" in pod "${name}" not found`);
      }
      const waiting = 'waiting' in slot.state ? slot.state.waiting.reason : 'ContainerCreating';
      throw badRequest(`container "${slot.name}" in pod "${name}" is waiting to start: ${waiting}`);
    }
    return { lines: log.snapshot(request), live: log.isEnded ? undefined : log };
  }

  /** Fault injection: kills the pod's containers as the OOM killer or a crash would. */
  killPod(namespace: string, name: string, reason: 'OOMKilled' | 'Error'): void {
    this.worker(namespace, name).kill(reason);
  }
}
