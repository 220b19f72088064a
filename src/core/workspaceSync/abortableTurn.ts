/** Resolves when `turn` does, or rejects as soon as `signal` aborts. */
export function turnOf(turn: Promise<unknown>, signal: AbortSignal | undefined): Promise<unknown> {
  if (!signal) {
    return turn;
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    void turn.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(undefined);
    });
  });
}
