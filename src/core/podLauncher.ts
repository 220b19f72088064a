import type { CoreV1Api, CoreV1Event, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { withApiRetry } from './apiRetry.ts';
import { PodStartError } from './errors.ts';
import { isNotFound, translateApiError } from './kubernetesErrors.ts';
import type { Logger } from './logger.ts';
import { watchUntil } from './watchUntil.ts';

const fatalWaitingReasons = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/** A step of a pod's start, for progress reporting: its phase, or one of its Events. */
export interface PodStartProgress {
  phase: string;
  message: string;
}

export interface StartOptions {
  signal?: AbortSignal;
  onProgress?: (progress: PodStartProgress) => void;
}

export interface PodLauncherOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  namespace: string;
  logger: Logger;
}

/** Why a pod cannot become ready, if its status already says so. */
export function fatalPodCondition(pod: V1Pod): { reason: string; message: string } | undefined {
  const status = pod.status;
  if (status?.phase === 'Failed' || status?.phase === 'Succeeded') {
    const terminated = status.containerStatuses?.find((c) => c.state?.terminated)?.state
      ?.terminated;
    const detail = terminated
      ? `container exited with code ${terminated.exitCode} (${terminated.reason ?? 'no reason'})${terminated.message ? `: ${terminated.message}` : ''}`
      : (status.message ?? '');
    return {
      reason: status.reason ?? status.phase,
      message: `the pod is ${status.phase}${detail ? `: ${detail}` : ''}`,
    };
  }
  const unschedulable = status?.conditions?.find(
    (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
  );
  if (unschedulable) {
    return {
      reason: 'Unschedulable',
      message: `the pod cannot be scheduled: ${unschedulable.message ?? ''}`,
    };
  }
  for (const container of [
    ...(status?.initContainerStatuses ?? []),
    ...(status?.containerStatuses ?? []),
  ]) {
    const waiting = container.state?.waiting;
    if (waiting?.reason && fatalWaitingReasons.has(waiting.reason)) {
      return {
        reason: waiting.reason,
        message: `container ${container.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
      };
    }
  }
  return undefined;
}

/** "Pending", "Pending (ContainerCreating)", "Running (not ready)", ... */
function describePhase(pod: V1Pod): string {
  const phase = pod.status?.phase ?? 'Pending';
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason)?.state
    ?.waiting?.reason;
  if (waiting) {
    return `${phase} (${waiting})`;
  }
  return phase === 'Running' && !isPodReady(pod) ? 'Running (not ready)' : phase;
}

export function isPodReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
  );
}

/**
 * Creates pods and waits for them with a watch (not polling), failing fast with the cause, the
 * pod's Events and its last log lines; deletes pods and waits until they are gone.
 */
export class PodLauncher {
  constructor(private readonly options: PodLauncherOptions) {}

  async create(pod: V1Pod): Promise<V1Pod> {
    try {
      return await withApiRetry(
        () =>
          this.options.core.createNamespacedPod({ namespace: this.options.namespace, body: pod }),
        { idempotent: false },
      );
    } catch (error) {
      throw translateApiError(error, `create pod ${pod.metadata?.name ?? ''}`);
    }
  }

  async find(name: string): Promise<V1Pod | undefined> {
    try {
      return await withApiRetry(
        () => this.options.core.readNamespacedPod({ namespace: this.options.namespace, name }),
        { idempotent: true },
      );
    } catch (error) {
      if (isNotFound(error)) {
        return undefined;
      }
      throw translateApiError(error, `read pod ${name}`);
    }
  }

  /** Resolves with the pod once it is Ready; rejects with PodStartError on a fatal state or timeout. */
  async waitUntilReady(
    name: string,
    timeoutMs: number,
    options: StartOptions = {},
  ): Promise<V1Pod> {
    const { signal, onProgress } = options;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pod = await this.find(name);
      if (!pod) {
        return;
      }
      // A watch that fails or ends early only means: read the pod again.
      await this.watchPod(
        name,
        pod.metadata?.resourceVersion ?? '0',
        (type) => (type === 'DELETED' ? true : undefined),
        AbortSignal.timeout(Math.max(0, deadline - Date.now())),
      ).catch(() => undefined);
    }
    this.options.logger.warn(
      `pod ${name} was still terminating after ${Math.round(timeoutMs / 1000)} s`,
    );
  }
}
