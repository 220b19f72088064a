import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { translateApiError } from './kubernetesErrors.ts';
import { settleOnce } from './settleOnce.ts';

export interface WatchRequest {
  /** The collection to watch, e.g. `/api/v1/namespaces/ns/pods`. */
  path: string;
  query: Record<string, string | boolean>;
  /** What is watched, as error messages say it: "pod p". */
  what: string;
}

/**
 * Watches until `predicate` returns a value for an event (resolves with it). Resolves undefined
 * when the server ends the watch; rejects at once with the signal's reason when `signal` aborts,
 * with what `predicate` throws, or with a typed API error when the watch cannot start.
 */
export function watchUntil<Object, Result>(
  kubeConfig: KubeConfig,
  request: WatchRequest,
  predicate: (type: string, object: Object) => Result | undefined,
  signal: AbortSignal,
): Promise<Result | undefined> {
  return new Promise<Result | undefined>((resolve, reject) => {
    let controller: AbortController | undefined;
    const outcome = settleOnce<Result | undefined>(resolve, reject, () => {
      signal.removeEventListener('abort', onAbort);
      controller?.abort();
    });
    const onAbort = () => outcome.reject(signal.reason);
    // A signal that fired while the caller was reading the object has no event left to fire.
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    new Watch(kubeConfig)
      .watch(
        request.path,
        request.query,
        (type: string, object: Object) => {
          if (outcome.settled) {
            return;
          }
          try {
            const result = predicate(type, object);
            if (result !== undefined) {
              outcome.resolve(result);
            }
          } catch (error) {
            outcome.reject(error);
          }
        },
        () => outcome.resolve(undefined),
      )
      .then(
        (started) => {
          controller = started;
          if (outcome.settled) {
            started.abort();
          }
        },
        (error: unknown) => outcome.reject(translateApiError(error, `watch ${request.what}`)),
      );
  });
}
