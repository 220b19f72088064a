/** How a retry loop spaces its tries. */
export interface BackoffPolicy {
  /** The wait before the second try; each later wait doubles, up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Tries in all, the first included; without it the loop runs until its signal aborts. */
  maxAttempts?: number;
  /** The longest wait a server's Retry-After may ask for; default `maxDelayMs`. */
  maxRetryAfterMs?: number;
  /**
   * No try starts this long after the loop began. A clock check at each wait rather than a
   * timeout signal: Node 20 may collect an AbortSignal.timeout() that only AbortSignal.any()
   * holds, and the loop would then never end.
   */
  windowMs?: number;
}

/** The wait after failed try number `attempt` (1-based): exponential, capped. */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  return Math.min(policy.initialDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
}

/**
 * The waits between the tries of one retry loop. `wait()` resolves true when it is time for the
 * next try, or false, at once, when no try is left or the signal aborted: then the caller stops
 * (and throws its last error).
 */
export class Backoff {
  private failedAttempts = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly signal?: AbortSignal,
  ) {}

  /** Waits before the next try; a server's Retry-After (ms), when given, replaces the backoff. */
  wait(retryAfterMs?: number): Promise<boolean> {
    this.failedAttempts++;
    const { policy, signal } = this;
    const windowLeft =
      policy.windowMs === undefined ? Infinity : this.startedAt + policy.windowMs - Date.now();
    if (
      signal?.aborted ||
      windowLeft <= 0 ||
      (policy.maxAttempts !== undefined && this.failedAttempts >= policy.maxAttempts)
    ) {
      return Promise.resolve(false);
    }
    const delay = Math.min(
      windowLeft,
      retryAfterMs === undefined
        ? backoffDelay(policy, this.failedAttempts)
        : Math.min(retryAfterMs, policy.maxRetryAfterMs ?? policy.maxDelayMs),
    );
    return new Promise<boolean>((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      }, delay);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
