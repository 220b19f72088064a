import * as vscode from 'vscode';
import type { StartOptions } from '../core/index.ts';
import { signalFromToken } from './cancellation.ts';
import type { PodStateHolder } from './podState.ts';

/**
 * Runs a pod start under a cancellable progress notification that shows the pod's phase and its
 * Events as they happen ("Pending (ContainerCreating) · Pulling: pulling image python:3-slim"),
 * with the pod's state `starting` meanwhile and `error` when it fails. The caller sets `ready`
 * once it holds the started pod.
 */
export async function withPodStartProgress<T>(
  status: PodStateHolder,
  title: string,
  start: (options: StartOptions) => Promise<T>,
): Promise<T> {
  status.set('starting');
  try {
    return await showStartProgress(title, start);
  } catch (error) {
    status.set('error', error as Error);
    throw error;
  }
}

function showStartProgress<T>(
  title: string,
  start: (options: StartOptions) => Promise<T>,
): Thenable<T> {
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
