import { formatDuration } from './backoff.ts';
import type { ContainerLog } from './containerLogs.ts';
import { signalNumber, type ContainerProcess } from './sandbox.ts';
import { timestamp } from '../store/objectStore.ts';

type Json = Record<string, unknown>;

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

  /** The runtime could not start the command: the StartError a containerd node reports. */
  markStartError(startError: string): string {
    const message = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${startError}: unknown`;
    this.process = undefined;
    this.state = {
      terminated: {
        exitCode: 128,
        reason: 'StartError',
        message,
        startedAt: '1970-01-01T00:00:00Z',
        finishedAt: timestamp(),
        ...(this.containerID ? { containerID: this.containerID } : {}),
      },
    };
    return message;
  }

  markRunning(startedAt: string): void {
    this.state = { running: { startedAt } };
    this.started = true;
    this.everStarted = true;
    this.ready = !this.spec.readinessProbe;
  }

  markExited(result: { exitCode: number; signal?: string }, startedAt: string): void {
    this.process = undefined;
    this.started = false;
    this.ready = false;
    const reason = this.killReason ?? (result.exitCode === 0 ? 'Completed' : 'Error');
    this.killReason = undefined;
    this.state = {
      terminated: {
        exitCode: result.exitCode,
        reason,
        ...(result.signal ? { signal: signalNumber(result.signal) } : {}),
        startedAt,
        finishedAt: timestamp(),
        ...(this.containerID ? { containerID: this.containerID } : {}),
      },
    };
  }

  /** Waiting out a crash loop before restart number restartCount + 1; `pod` is name_namespace(uid). */
  markBackOff(delayMs: number, pod: string): void {
    this.lastState = this.state;
    this.restartCount++;
    this.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${formatDuration(delayMs)} restarting failed container=${this.name} pod=${pod}`,
      },
    };
  }

  /** The `spec.containers{name}` path that the kubelet's events point at. */
  get fieldPath(): string {
    return `spec.${this.init ? 'initContainers' : 'containers'}{${this.name}}`;
  }
}

/** How the pod worker reports what a helper (image pull, probe) saw: events and status writes. */
export interface PodReporter {
  event(type: 'Normal' | 'Warning', reason: string, message: string, slot?: ContainerSlot): void;
  publish(): void;
}
