import * as vscode from 'vscode';
import type { DownloadResult, PodTerminal, SyncedFolder, TerminalOptions } from '../core/index.ts';
import type { Ctx } from './ctx.ts';

/** A pod of this window that a shell or a log view can target. */
export type PodKind = 'executor' | 'kernel';

export interface PodTarget {
  kind: PodKind;
  podName: string;
  namespace: string;
  openTerminal(options: TerminalOptions): Promise<PodTerminal>;
  readLogs(tailLines?: number): Promise<string>;
  /** The folders synced to the pod, local and remote. */
  readonly syncedFolders: readonly SyncedFolder[];
  downloadFromPod(
    remotePath: string,
    localDir: string,
    options?: { signal?: AbortSignal },
  ): Promise<DownloadResult>;
}

export function runningPods(ctx: Ctx): PodTarget[] {
  const targets: PodTarget[] = [];
  const executor = ctx.executor.running;
  if (executor) {
    targets.push({
      kind: 'executor',
      podName: executor.podName,
      namespace: executor.namespace,
      openTerminal: (options) => executor.openTerminal(options),
      readLogs: (tail) => executor.readLogs(tail),
      syncedFolders: executor.syncedFolders,
      downloadFromPod: (remote, local, options) => executor.downloadFromPod(remote, local, options),
    });
  }
  const server = ctx.kernels.runningServer;
  if (server) {
    targets.push({
      kind: 'kernel',
      podName: server.podName,
      namespace: server.namespace ?? '',
      openTerminal: (options) => server.openTerminal(options),
      readLogs: (tail) => server.readLogs(tail),
      syncedFolders: server.syncedFolders,
      downloadFromPod: (remote, local, options) => server.downloadFromPod(remote, local, options),
    });
  }
  return targets;
}

/**
 * The pod to act on: the one of `kind` when given, else the only running one, or the user's pick
 * when both run. With none running, the executor pod is started when `startExecutor` is set.
 */
export async function pickPod(
  ctx: Ctx,
  title: string,
  startExecutor: boolean,
  kind?: PodKind,
): Promise<PodTarget | undefined> {
  const matching = () => runningPods(ctx).filter((target) => !kind || target.kind === kind);
  let targets = matching();
  if (targets.length === 0 && startExecutor && kind !== 'kernel') {
    await ctx.executor.ensureStarted();
    targets = matching();
  }
  if (targets.length <= 1) {
    if (targets.length === 0) {
      await vscode.window.showInformationMessage('Pod Runner: no pod of this window is running.');
    }
    return targets[0];
  }
  const picked = await vscode.window.showQuickPick(
    targets.map((target) => ({
      label: target.podName,
      description: target.kind === 'executor' ? 'executor pod' : 'kernel gateway pod',
      target,
    })),
    { title },
  );
  return picked?.target;
}
