import {
  ApiException,
  createConfiguration,
  ServerConfiguration,
  type Configuration,
  type KubeConfig,
} from '@kubernetes/client-node';
import { Backoff, type BackoffPolicy } from './backoff.ts';
import { PodRunnerError } from './errors.ts';
import { isNotFound, translateApiError } from './kubernetesErrors.ts';

/** Per API request: long enough for a loaded apiserver, short enough that a stalled one is noticed. */
export const apiCallTimeoutMs = 30_000;

/**
 * `kubeConfig.makeApiClient` with a deadline on every request, so a server that accepts the
 * connection and never answers fails the call instead of hanging it.
 */
export function makeApiClient<Api>(
  kubeConfig: KubeConfig,
  apiClass: new (configuration: Configuration) => Api,
  timeoutMs = apiCallTimeoutMs,
): Api {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new PodRunnerError('the kubeconfig has no current cluster');
  }
  return new apiClass(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      promiseMiddleware: [
        {
          pre: (context) => {
            context.setSignal(AbortSignal.timeout(timeoutMs));
            return Promise.resolve(context);
          },
          post: (response) => Promise.resolve(response),
        },
      ],
    }),
  );
}

const transientStatuses = new Set([429, 500, 502, 503, 504]);
const refusedCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** Five tries, 200 ms to 3 s apart; a server's Retry-After is honoured up to 10 s. */
export const apiBackoff: BackoffPolicy = {
  initialDelayMs: 200,
  maxDelayMs: 3_000,
  maxAttempts: 5,
  maxRetryAfterMs: 10_000,
};

export interface RetryOptions {
  /**
   * GET, LIST, DELETE and other repeatable calls retry on 429, 5xx and dropped connections.
   * A create only retries what the server cannot have acted on: 429 and a refused connection.
   */
  idempotent: boolean;
  signal?: AbortSignal;
}

function networkCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      return code;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Whether a failed API call may be tried again, with the server's Retry-After (ms) when it sent
 * one; undefined when the error is final.
 */
export function retryAdvice(
  error: unknown,
  idempotent: boolean,
): { retryAfterMs?: number } | undefined {
  if (error instanceof ApiException) {
    const status = Number(error.code);
    if (!transientStatuses.has(status) || (!idempotent && status !== 429)) {
      return undefined;
    }
    const retryAfter = Number(
      (error.headers as Record<string, string> | undefined)?.['retry-after'],
    );
    return Number.isFinite(retryAfter) && retryAfter >= 0
      ? { retryAfterMs: retryAfter * 1000 }
      : {};
  }
  const code = networkCode(error);
  return code && refusedCodes.has(code) && (idempotent || code === 'ECONNREFUSED') ? {} : undefined;
}

/**
 * Runs an API call, retrying transient failures as `apiBackoff` says. The last error is thrown
 * as it came; an abort stops the wait at once and throws the signal's reason.
 */
export async function withApiRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = new Backoff(apiBackoff, options.signal);
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return await call();
    } catch (caught) {
      // A request that hit its deadline is not retried: the server stopped answering.
      const error =
        (caught as Error | undefined)?.name === 'AbortError' && !options.signal?.aborted
          ? new Error('the API server did not answer in time', { cause: caught })
          : caught;
      const advice = retryAdvice(error, options.idempotent);
      if (!advice || !(await backoff.wait(advice.retryAfterMs))) {
        options.signal?.throwIfAborted();
        throw error;
      }
    }
  }
}

/** A delete, retried as idempotent, for which an object already gone counts as done. */
export async function deleteIfPresent(what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await withApiRetry(call, { idempotent: true });
  } catch (error) {
    if (!isNotFound(error)) {
      throw translateApiError(error, what);
    }
  }
}
