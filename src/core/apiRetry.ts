import { ApiException } from '@kubernetes/client-node';
import { isNotFound, translateApiError } from './kubernetesErrors.ts';

const transientStatuses = new Set([429, 500, 502, 503, 504]);
const refusedCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
const maxAttempts = 5;
const maxDelayMs = 10_000;

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

/** How long to wait before attempt `attempt + 1`, or undefined when the error is final. */
function retryDelay(error: unknown, attempt: number, idempotent: boolean): number | undefined {
  if (attempt >= maxAttempts) {
    return undefined;
  }
  const backoff = Math.min(200 * 2 ** (attempt - 1), 3_000);
  if (error instanceof ApiException) {
    const status = Number(error.code);
    if (!transientStatuses.has(status) || (!idempotent && status !== 429)) {
      return undefined;
    }
    const retryAfter = Number(
      (error.headers as Record<string, string> | undefined)?.['retry-after'],
    );
    return Number.isFinite(retryAfter) && retryAfter >= 0
      ? Math.min(retryAfter * 1000, maxDelayMs)
      : backoff;
  }
  const code = networkCode(error);
  if (code && refusedCodes.has(code) && (idempotent || code === 'ECONNREFUSED')) {
    return backoff;
  }
  return undefined;
}

/**
 * Runs an API call, retrying transient failures a bounded number of times with exponential
 * backoff, or after the server's Retry-After. The last error is thrown as it came.
 */
export async function withApiRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await call();
    } catch (error) {
      const delay = retryDelay(error, attempt, options.idempotent);
      if (delay === undefined) {
        throw error;
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, delay);
        options.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(options.signal?.reason as Error);
          },
          { once: true },
        );
      });
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
