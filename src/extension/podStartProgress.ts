import * as vscode from 'vscode';
import type { StartOptions } from '../core/index.ts';
import { signalFromToken } from './cancellation.ts';

/**
 * Runs a pod start under a cancellable progress notification that shows the pod's phase and its
 * Events as they happen ("Pending (ContainerCreating) · Pulling: pulling image python:3-slim").
 */
export async function withPodStartProgress<T>(
  title: string,
  start: (options: StartOptions) => Promise<T>,
): Promise<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const cancellation = signalFromToken(token);
      try {
        return await start({
          signal: cancellation.signal,
          onProgress: ({ phase, message }) =>
            progress.report({ message: message === phase ? phase : `${phase} · ${message}` }),
        });
      } finally {
        cancellation.dispose();
      }
    },
  );
}
