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

export { unlessAborted } from '../core/unlessAborted.ts';

/** The error of work cancelled on request (a Cancel, a stop): shown as cancelled, not as failed. */
export function cancellationError(message: string): Error {
  return new DOMException(message, 'AbortError');
}

export function isCancellation(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
