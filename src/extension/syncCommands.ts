import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import * as vscode from 'vscode';
import type { DownloadResult, SyncResult } from '../core/index.ts';
import { signalFromToken } from './cancellation.ts';
import type { Ctx } from './ctx.ts';
import { pickPod, type PodKind } from './podTargets.ts';
import { formatBytes, projectFolders, syncSummary, type SyncTarget } from './workspaceSync.ts';

/**
 * Syncs every open folder to the executor pod (started when needed) and to the kernel pod when
 * it runs, under a cancellable progress notification that counts the files; reports what each
 * sync did and resolves to the results.
 */
export async function syncWorkspaceCommand(ctx: Ctx): Promise<SyncResult[]> {
  const projects = projectFolders(ctx.settings);
  if (projects.length === 0) {
    await vscode.window.showWarningMessage('Pod Runner: open a folder to sync it to the pod.');
    return [];
  }
  const executor = await ctx.executor.ensureStarted();
  const targets: { name: string; pod: SyncTarget }[] = [{ name: executor.podName, pod: executor }];
  const server = ctx.kernels.runningServer;
  if (server) {
    targets.push({ name: server.podName, pod: server });
  }
  const results = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: 'Pod Runner: syncing the workspace',
      cancellable: true,
    },
    async (progress, token) => {
      const cancellation = signalFromToken(token);
      const done: SyncResult[] = [];
      try {
        for (const target of targets) {
          for (const project of projects) {
            const sync = () =>
              ctx.workspaceSync.sync(target.pod, project, {
                signal: cancellation.signal,
                onProgress: ({ files, bytes, total }) =>
                  progress.report({
                    message: `${project.folder.name} → ${target.name}: ${files} of ${total} files, ${formatBytes(bytes)}`,
                  }),
              });
            const result =
              target.pod === executor ? await ctx.executor.use(executor, sync) : await sync();
            ctx.output.write(`Sync to ${target.name}:\n${ctx.workspaceSync.describe(result)}`);
            done.push(result);
          }
        }
        return done;
      } finally {
        cancellation.dispose();
      }
    },
  );
  void vscode.window.showInformationMessage(
    `Pod Runner: ${results.map((result) => `${result.root}: ${syncSummary(result)}`).join('; ')}`,
  );
  return results;
}

/**
 * Copies a file or folder from a pod of this window to a local folder: the remote path from the
 * arguments or an input box (pre-filled with the synced root; a relative path is taken from
 * there), the destination from the arguments or a folder picker. What is already there is
 * replaced only with consent: `overwrite` from the arguments, else a modal question. Resolves to
 * what was written, or undefined when nothing was.
 */
export async function downloadFromPodCommand(
  ctx: Ctx,
  remotePath?: string,
  localDir?: string,
  kind?: PodKind,
  overwrite?: boolean,
): Promise<DownloadResult | undefined> {
  const target = await pickPod(ctx, 'Pod Runner: download from', true, kind);
  if (!target) {
    return undefined;
  }
  const syncedRoot = target.syncedFolders[0]?.remote ?? ctx.settings.workspacePath;
  const entered =
    remotePath ??
    (await vscode.window.showInputBox({
      title: `Pod Runner: download from ${target.podName}`,
      prompt: 'A file or folder in the pod (absolute, or relative to the synced root)',
      value: syncedRoot,
      ignoreFocusOut: true,
    }));
  if (!entered) {
    return undefined;
  }
  const source = posix.resolve(syncedRoot, entered);
  const destination = await consentedDestination(source, localDir, overwrite);
  if (!destination) {
    return undefined;
  }
  const result = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Pod Runner: downloading ${source}`,
      cancellable: true,
    },
    async (_progress, token) => {
      const cancellation = signalFromToken(token);
      try {
        return await target.downloadFromPod(source, destination, { signal: cancellation.signal });
      } finally {
        cancellation.dispose();
      }
    },
  );
  const summary = `downloaded ${result.files} ${result.files === 1 ? 'file' : 'files'} (${formatBytes(result.bytes)}) to ${result.localPath}`;
  ctx.output.write(`Download from ${target.podName}: ${summary}\n`);
  void vscode.window.showInformationMessage(`Pod Runner: ${summary}`);
  return result;
}

/**
 * The folder to download `source` into, once replacing what it holds of that name is agreed:
 * `overwrite` when given, else the user's answer (or another folder). Undefined: cancelled.
 */
async function consentedDestination(
  source: string,
  localDir: string | undefined,
  overwrite: boolean | undefined,
): Promise<string | undefined> {
  let destination = localDir ?? (await pickDestination(source));
  while (destination) {
    const existing = join(destination, posix.basename(source));
    if (overwrite === true || !existsSync(existing)) {
      return destination;
    }
    if (overwrite === false) {
      void vscode.window.showWarningMessage(
        `Pod Runner: ${existing} exists; nothing was downloaded.`,
      );
      return undefined;
    }
    const answer = await vscode.window.showWarningMessage(
      `${existing} exists. Overwrite it with ${source} from the pod?`,
      { modal: true },
      'Overwrite',
      'Choose Another Folder',
    );
    if (answer === 'Overwrite') {
      return destination;
    }
    destination = answer === 'Choose Another Folder' ? await pickDestination(source) : undefined;
  }
  return undefined;
}

async function pickDestination(source: string): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: `Pod Runner: download ${source} into`,
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Download here',
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir()),
  });
  return picked?.[0]?.fsPath;
}
