import type * as vscode from 'vscode';

/** An AbortSignal that follows a CancellationToken; dispose the result to drop the listener. */
export function signalFromToken(token: vscode.CancellationToken): {
  signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  if (token.isCancellationRequested) {
    controller.abort();
    return { signal: controller.signal, dispose: () => undefined };
  }
  const listener = token.onCancellationRequested(() => controller.abort());
  return {
    signal: controller.signal,
    dispose: () => {
      listener.dispose();
    },
  };
}

/**
 * Waits for `promise` unless `signal` fires first; then rejects with the signal's reason. The
 * promise itself goes on (it may be shared, like a pod start other cells wait for too).
 */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The error of work cancelled on request (a Cancel, a stop): shown as cancelled, not as failed. */
export function cancellationError(message: string): Error {
  return new DOMException(message, 'AbortError');
}

export function isCancellation(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
