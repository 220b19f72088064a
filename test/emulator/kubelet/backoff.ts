/** Waits and back-off as the kubelet does them: abortable waits, doubling delays up to 5 minutes. */

const maxBackoffMs = 300_000;

/** Resolves after `ms`, or at once when `signal` is (or becomes) aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The delay before retry number `failures` (from 0): base, 2×base, 4×base... at most 5 minutes. */
export function backoffDelay(baseMs: number, failures: number): number {
  return Math.min(baseMs * 2 ** Math.min(failures, 10), maxBackoffMs);
}

/** A delay as the kubelet prints it in back-off messages: `40s`, `2m40s`. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${seconds % 60}s` : `${seconds}s`;
}
