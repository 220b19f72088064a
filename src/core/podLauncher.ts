import type { CoreV1Api, CoreV1Event, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { deleteIfPresent, withApiRetry } from './apiRetry.ts';
import { Backoff, type BackoffPolicy } from './backoff.ts';
import { describePhase, fatalPodCondition, isPodReady } from './podConditions.ts';
import { PodStartError } from './errors.ts';
import { isNotFound, translateApiError } from './kubernetesErrors.ts';
import type { Logger } from './logger.ts';
import { watchUntil } from './watchUntil.ts';

export { fatalPodCondition, isPodReady } from './podConditions.ts';

/** Between reads of a pod being deleted, when its watch failed or ended early. */
const goneCheckBackoff: BackoffPolicy = { initialDelayMs: 200, maxDelayMs: 2_000 };

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
    const deadline = AbortSignal.timeout(timeoutMs);
    const finished = new AbortController();
    const stop = AbortSignal.any([deadline, finished.signal, ...(signal ? [signal] : [])]);
    let last: V1Pod | undefined;
    let phase = 'Pending';
    const report = onProgress
      ? (pod: V1Pod) => {
          phase = describePhase(pod);
          onProgress({ phase, message: phase });
        }
      : undefined;
    if (onProgress) {
      this.watchEvents(name, stop, (message) => onProgress({ phase, message }));
    }
    try {
      for (;;) {
        stop.throwIfAborted();
        last = await this.find(name);
        if (!last) {
          throw new PodStartError(`pod ${name} was deleted while starting`, name, 'Deleted');
        }
        report?.(last);
        const outcome = await this.evaluate(last);
        if (outcome) {
          return outcome;
        }
        last = await this.watchPod(
          name,
          last.metadata?.resourceVersion ?? '0',
          (type, pod) => {
            if (type === 'DELETED') {
              throw new PodStartError(`pod ${name} was deleted while starting`, name, 'Deleted');
            }
            if (isPodReady(pod) || fatalPodCondition(pod)) {
              return pod;
            }
            report?.(pod);
            return undefined;
          },
          stop,
        );
        if (last && (await this.evaluate(last))) {
          return last;
        }
      }
    } catch (error) {
      if (deadline.aborted && !(signal?.aborted ?? false) && !(error instanceof PodStartError)) {
        const phase = last?.status?.phase ?? 'unknown';
        throw await this.startError(
          name,
          'Timeout',
          `pod ${name} was not ready after ${Math.round(timeoutMs / 1000)} s (phase ${phase})`,
          last,
        );
      }
      throw error;
    } finally {
      finished.abort();
    }
  }

  /** Reports the pod's Events as they are recorded (best effort: progress only, never an error). */
  private watchEvents(name: string, stop: AbortSignal, onEvent: (message: string) => void): void {
    const seen = new Set<string>();
    const request = {
      path: `/api/v1/namespaces/${this.options.namespace}/events`,
      query: { fieldSelector: `involvedObject.name=${name}` },
      what: `the events of pod ${name}`,
    };
    watchUntil<CoreV1Event, never>(
      this.options.kubeConfig,
      request,
      (type, event) => {
        const key = event.metadata?.uid ?? '';
        if (type !== 'DELETED' && !seen.has(key)) {
          seen.add(key);
          onEvent(`${event.reason ?? 'Event'}: ${event.message ?? ''}`.trim());
        }
        return undefined;
      },
      stop,
    ).catch((error: unknown) => {
      if (!stop.aborted) {
        this.options.logger.debug(`cannot watch the events of pod ${name}: ${String(error)}`);
      }
    });
  }

  /** Ready → the pod; fatal → throws; otherwise undefined (keep waiting). */
  private async evaluate(pod: V1Pod): Promise<V1Pod | undefined> {
    if (isPodReady(pod)) {
      return pod;
    }
    const fatal = fatalPodCondition(pod);
    if (fatal) {
      throw await this.startError(
        pod.metadata?.name ?? '',
        fatal.reason,
        `pod ${pod.metadata?.name ?? ''} failed to start: ${fatal.message}`,
        pod,
      );
    }
    return undefined;
  }

  /** Watches one pod from a resourceVersion until `predicate` decides (see watchUntil). */
  private watchPod<Result>(
    name: string,
    resourceVersion: string,
    predicate: (type: string, pod: V1Pod) => Result | undefined,
    signal: AbortSignal,
  ): Promise<Result | undefined> {
    const request = {
      path: `/api/v1/namespaces/${this.options.namespace}/pods`,
      query: {
        fieldSelector: `metadata.name=${name}`,
        resourceVersion,
        allowWatchBookmarks: false,
      },
      what: `pod ${name}`,
    };
    return watchUntil(this.options.kubeConfig, request, predicate, signal);
  }

  private async startError(
    name: string,
    reason: string,
    message: string,
    pod?: V1Pod,
  ): Promise<PodStartError> {
    // A pod waiting for its claim says only that; why the claim waits is on the claim.
    const events = [...(await this.events(name)), ...(await this.claimWarnings(pod))];
    const logTail = await this.logTail(name);
    const details = [
      message,
      ...(events.length ? ['Events:', ...events.map((e) => `  ${e}`)] : []),
      ...(logTail
        ? [
            'Last log lines:',
            ...logTail
              .trimEnd()
              .split('\n')
              .map((l) => `  ${l}`),
          ]
        : []),
    ].join('\n');
    return new PodStartError(details, name, reason, events, logTail);
  }

  /** The pod's Events, one line each (best effort: none when they cannot be read). */
  async events(name: string): Promise<string[]> {
    try {
      const list = await this.options.core.listNamespacedEvent({
        namespace: this.options.namespace,
        fieldSelector: `involvedObject.name=${name}`,
      });
      return list.items.map((e) => `${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`.trim());
    } catch {
      return [];
    }
  }

  /** The Warning events of the claims the pod mounts that are not bound, each naming its claim. */
  private async claimWarnings(pod: V1Pod | undefined): Promise<string[]> {
    const claims = (pod?.spec?.volumes ?? []).flatMap((volume) =>
      volume.persistentVolumeClaim ? [volume.persistentVolumeClaim.claimName] : [],
    );
    const warnings = await Promise.all(
      claims.map(async (claim) => {
        try {
          const { status } = await this.options.core.readNamespacedPersistentVolumeClaim({
            namespace: this.options.namespace,
            name: claim,
          });
          // A bound claim's old warnings (a class that came late) say nothing about this start.
          if (status?.phase === 'Bound') {
            return [];
          }
          const list = await this.options.core.listNamespacedEvent({
            namespace: this.options.namespace,
            fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${claim}`,
          });
          return list.items
            .filter((e) => e.type === 'Warning')
            .map(
              (e) =>
                `persistentvolumeclaim/${claim}: Warning ${e.reason ?? ''}: ${e.message ?? ''}`,
            );
        } catch {
          return [];
        }
      }),
    );
    return warnings.flat();
  }

  private async logTail(name: string): Promise<string> {
    try {
      return await this.readLogs(name, 10);
    } catch {
      return '';
    }
  }

  async readLogs(name: string, tailLines?: number): Promise<string> {
    try {
      return await withApiRetry(
        () =>
          this.options.core.readNamespacedPodLog({
            namespace: this.options.namespace,
            name,
            ...(tailLines !== undefined ? { tailLines } : {}),
          }),
        { idempotent: true },
      );
    } catch (error) {
      throw translateApiError(error, `read the log of pod ${name}`);
    }
  }

  /** Deletes the pod (a missing pod is fine) and waits until the API no longer has it. */
  async deleteAndWait(name: string, timeoutMs = 60_000): Promise<void> {
    await deleteIfPresent(`delete pod ${name}`, () =>
      this.options.core.deleteNamespacedPod({ namespace: this.options.namespace, name }),
    );
    const deadline = AbortSignal.timeout(timeoutMs);
    const readAgain = new Backoff(goneCheckBackoff, deadline);
    for (;;) {
      const pod = await this.find(name);
      if (!pod) {
        return;
      }
      // A watch that fails or ends early only means: read the pod again, after a pause.
      const deleted = await this.watchPod(
        name,
        pod.metadata?.resourceVersion ?? '0',
        (type) => (type === 'DELETED' ? true : undefined),
        deadline,
      ).catch(() => undefined);
      if (!deleted && !(await readAgain.wait())) {
        break;
      }
    }
    this.options.logger.warn(
      `pod ${name} was still terminating after ${Math.round(timeoutMs / 1000)} s`,
    );
  }
}
