import { Backoff, type BackoffPolicy } from './backoff.ts';
import type { PodGoneError } from './errors.ts';
import type { Logger } from './logger.ts';
import { podGoneError, podGoneReason, type PodLookup } from './podGone.ts';
import type { PortForwardState } from './portForwarder.ts';
import { unlessAborted } from './unlessAborted.ts';

/** Between looks at an unreachable API server: quick at first (a blip), then every 5 s. */
export const executorReconnectBackoff: BackoffPolicy = { initialDelayMs: 500, maxDelayMs: 5_000 };

export interface ExecutorConnectionOptions {
  lookup: PodLookup;
  namespace: string;
  pod: string;
  logger: Logger;
  /** Called on each change; with `gone`, the error that says why. */
  onStateChange?: (state: PortForwardState, podGone?: PodGoneError) => void;
}

/**
 * The executor's link to its pod through the API server: after an exec lost its connection, it
 * waits, with bounded backoff, until the server answers again, and then tells a pod that is gone
 * (deleted, stopped) from one that is still there. Its state is the port-forward's: `connected`,
 * `reconnecting` while the server cannot be reached, `gone`.
 */
export class ExecutorConnection {
  private stateNow: PortForwardState = 'connected';

  constructor(private readonly options: ExecutorConnectionOptions) {}

  get state(): PortForwardState {
    return this.stateNow;
  }

  /** An exec reached the pod. */
  reached(): void {
    this.setState('connected');
  }

  /**
   * Waits until the API server answers about the pod: true once it does and the pod is there,
   * false when `until` aborts first; throws PodGoneError when the pod was deleted or stopped.
   */
  async awaitServer(until: AbortSignal): Promise<boolean> {
    const { lookup, pod, namespace, logger } = this.options;
    this.setState('reconnecting');
    const backoff = new Backoff(executorReconnectBackoff, until);
    do {
      let found;
      try {
        found = await unlessAborted(lookup.find(pod), until);
      } catch (error) {
        logger.debug(`pod ${pod}: the API server cannot be reached: ${(error as Error).message}`);
        continue;
      }
      const why = podGoneReason(found);
      if (why) {
        const gone = await podGoneError(lookup, namespace, pod, why);
        logger.warn(gone.message);
        this.setState('gone', gone);
        throw gone;
      }
      this.setState('connected');
      return true;
    } while (await backoff.wait());
    return false;
  }

  private setState(state: PortForwardState, gone?: PodGoneError): void {
    if (this.stateNow !== state) {
      this.stateNow = state;
      this.options.onStateChange?.(state, gone);
    }
  }
}

/**
 * A signal that aborts after `ms`, or with `signal`; `clear()` when done. On a timer of its own:
 * Node 20 may collect an AbortSignal.timeout() that only AbortSignal.any() holds, and then the
 * composite never aborts.
 */
export function deadlineSignal(
  ms: number,
  signal?: AbortSignal,
): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms} ms`)), ms);
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) {
    onAbort();
  } else {
    signal?.addEventListener('abort', onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
