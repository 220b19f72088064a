/** A promise's resolve and reject for racing outcomes: the first one wins, the rest are ignored. */
export interface Outcome<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
  /** Whether an outcome was already chosen. */
  readonly settled: boolean;
}

/**
 * Wraps a promise's `resolve` and `reject` so that only the first call counts; `cleanup` (timers,
 * listeners) runs once, just before it.
 */
export function settleOnce<T>(
  resolve: (value: T) => void,
  reject: (error: unknown) => void,
  cleanup: () => void = () => undefined,
): Outcome<T> {
  let settled = false;
  const settle = (action: () => void) => {
    if (!settled) {
      settled = true;
      cleanup();
      action();
    }
  };
  return {
    resolve: (value) => settle(() => resolve(value)),
    reject: (error) => settle(() => reject(error)),
    get settled() {
      return settled;
    },
  };
}
