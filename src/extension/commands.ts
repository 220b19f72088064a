import * as vscode from 'vscode';
import { isCancellation } from './cancellation.ts';
import { selectContext, selectNamespace } from './clusterPickers.ts';
import { clusterTargetOf } from './config.ts';
import { runAndAdvance, runCells, runFileCells, runSelectionCell } from './cellCommands.ts';
import type { ManagedPod } from '../core/index.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { showPodLogs } from './podLogs.ts';
import { openPodShell } from './podShell.ts';
import { pickPod, type PodKind } from './podTargets.ts';
import { codeFromEditor, runInPod } from './runInPod.ts';
import { openNotebook } from './interactiveWindows.ts';
import { kernelsText, podRunnerStatus } from './statusBar.ts';
import { downloadFromPodCommand, syncWorkspaceCommand } from './syncCommands.ts';

type Command = (...args: unknown[]) => unknown;

const cellsFailed = 'cannot run in the Interactive Window';

/** Every contributed command, as a factory of its handler over the window's context. */
export const commandFactories: Record<string, (ctx: Ctx) => Command> = {
  runSelection: (ctx) => () => runFromEditor(ctx, false),
  runFile: (ctx) => () => runFromEditor(ctx, true),
  selectContext: (ctx) => () => guarded(ctx, 'cannot list contexts', () => selectContext(ctx)),
  selectNamespace: (ctx) => () =>
    guarded(ctx, 'cannot list namespaces', () => selectNamespace(ctx)),
  selectProfile: (ctx) => (name) =>
    guarded(ctx, 'cannot select the profile', () =>
      name === undefined ? ctx.profiles.pick() : ctx.profiles.select(optionalText(name)),
    ),
  showLogs: (ctx) => () => ctx.logChannel.show(),
  showOutput: (ctx) => () => ctx.output.show(),
  openSettings: () => () =>
    vscode.commands.executeCommand('workbench.action.openSettings', 'podRunner'),
  managePods: (ctx) => () => managePods(ctx),
  startExecutorPod: (ctx) => () =>
    guarded(ctx, 'cannot start the executor pod', () => ctx.executor.ensureStarted()),
  stopExecutorPod: (ctx) => () =>
    guarded(ctx, 'cannot stop the executor pod', () => ctx.executor.stop(true)),
  restartExecutorPod: (ctx) => () =>
    guarded(ctx, 'cannot restart the executor pod', () => ctx.executor.restart()),
  startKernelPod: (ctx) => () =>
    guarded(ctx, 'cannot start the kernel pod', () => ctx.kernels.ensureServer()),
  restartKernel: (ctx) => (target) =>
    guarded(ctx, 'cannot restart the kernel', async () => {
      const notebook = toolbarNotebook(target) ?? vscode.window.activeNotebookEditor?.notebook;
      if (notebook) {
        // The notebook's kernel is the default controller's or a profile's.
        const controllers = [ctx.kernels, ...ctx.profiles.kernelControllers];
        const owner = controllers.find((controller) => controller.hasKernel(notebook));
        await (owner ?? ctx.kernels).restartKernel(notebook);
      }
    }),
  stopKernelPod: (ctx) => () =>
    guarded(ctx, 'cannot stop the kernel pod', () => ctx.kernels.stop()),
  showPodLogs: (ctx) => (kind) =>
    guarded(ctx, 'cannot show the pod log', async () => {
      const target = await pickPod(ctx, 'Pod Runner: show the log of', false, podKind(kind));
      return target && showPodLogs(ctx, ctx.podLogs, target);
    }),
  openShell: (ctx) => (kind) =>
    guarded(ctx, 'cannot open a shell in the pod', async () => {
      const target = await pickPod(ctx, 'Pod Runner: open a shell in', true, podKind(kind));
      return target && openPodShell(ctx, target);
    }),
  reapOrphans: (ctx) => () => guarded(ctx, 'cannot delete orphaned pods', () => reapOrphans(ctx)),
  runCell: (ctx) => (uri, line) =>
    guarded(ctx, cellsFailed, () => runCells(ctx, uri, line, 'cell')),
  runCellsAbove: (ctx) => (uri, line) =>
    guarded(ctx, cellsFailed, () => runCells(ctx, uri, line, 'above')),
  runCellAndBelow: (ctx) => (uri, line) =>
    guarded(ctx, cellsFailed, () => runCells(ctx, uri, line, 'below')),
  runCurrentCell: (ctx) => () =>
    guarded(ctx, cellsFailed, () => runCells(ctx, undefined, undefined, 'cell')),
  runCurrentCellAndAdvance: (ctx) => () => guarded(ctx, cellsFailed, () => runAndAdvance(ctx)),
  runFileInInteractiveWindow: (ctx) => (uri) =>
    guarded(ctx, cellsFailed, () => runFileCells(ctx, uri)),
  runSelectionInInteractiveWindow: (ctx) => () =>
    guarded(ctx, cellsFailed, () => runSelectionCell(ctx)),
  syncWorkspace: (ctx) => () =>
    guarded(ctx, 'cannot sync the workspace', () => syncWorkspaceCommand(ctx)),
  downloadFromPod: (ctx) => (remotePath, localDir, kind, overwrite) =>
    guarded(ctx, 'cannot download from the pod', () =>
      downloadFromPodCommand(
        ctx,
        optionalText(remotePath),
        optionalText(localDir),
        podKind(kind),
        typeof overwrite === 'boolean' ? overwrite : undefined,
      ),
    ),
};

export function registerCommands(ctx: Ctx): void {
  for (const [name, factory] of Object.entries(commandFactories)) {
    ctx.push(vscode.commands.registerCommand(`podRunner.${name}`, factory(ctx)));
  }
}

/**
 * The notebook (or Interactive Window) whose toolbar ran a command: VS Code passes its editor's
 * notebook URI.
 */
function toolbarNotebook(argument: unknown): vscode.NotebookDocument | undefined {
  const uri =
    typeof argument === 'object' && argument !== null && 'notebookEditor' in argument
      ? (argument.notebookEditor as { notebookUri?: unknown }).notebookUri
      : undefined;
  return uri instanceof vscode.Uri ? openNotebook(uri) : undefined;
}

/** The optional argument of the shell and log commands: which pod, instead of asking. */
function podKind(argument: unknown): PodKind | undefined {
  return argument === 'executor' || argument === 'kernel' ? argument : undefined;
}

/** A text argument of a command (the tests and keybindings pass them); anything else is none. */
function optionalText(argument: unknown): string | undefined {
  return typeof argument === 'string' && argument !== '' ? argument : undefined;
}

async function guarded<T>(
  ctx: Ctx,
  message: string,
  action: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await action();
  } catch (error) {
    if (isCancellation(error)) {
      // Cancelled by the user (the progress notification's Cancel, or a stop during a start).
      ctx.logger.info(`${message}: cancelled`);
    } else {
      // Not awaited: a command must not wait for the user to dismiss its error.
      void ctx.showError(message, error);
    }
    return undefined;
  }
}

async function runFromEditor(ctx: Ctx, wholeFile: boolean): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    await vscode.window.showWarningMessage('Pod Runner runs code only in trusted workspaces.');
    return;
  }
  const editor = vscode.window.activeTextEditor;
  const code = editor && codeFromEditor(editor, wholeFile);
  if (!code) {
    await vscode.window.showWarningMessage(
      'Pod Runner runs Python and shell files: open one first.',
    );
    return;
  }
  await guarded(ctx, `running ${code.label} failed`, () => runInPod(ctx, code));
}

async function managePods(ctx: Ctx): Promise<void> {
  const executorUp = ctx.executor.running !== undefined;
  const kernelUp = ctx.kernels.runningServer !== undefined;
  const entries: [boolean, string, string][] = [
    [!executorUp, '$(play) Start executor pod', 'startExecutorPod'],
    [executorUp, '$(debug-restart) Restart executor pod', 'restartExecutorPod'],
    [executorUp, '$(debug-stop) Stop executor pod', 'stopExecutorPod'],
    [!kernelUp, '$(notebook-kernel-select) Start kernel pod', 'startKernelPod'],
    [kernelUp, '$(refresh) Restart kernel', 'restartKernel'],
    [kernelUp, '$(debug-stop) Stop kernel pod', 'stopKernelPod'],
    [executorUp || kernelUp, '$(list-flat) Show pod logs', 'showPodLogs'],
    [true, '$(terminal) Open a shell in the pod', 'openShell'],
    [true, '$(cloud-upload) Sync workspace to the pod', 'syncWorkspace'],
    [executorUp || kernelUp, '$(cloud-download) Download from the pod', 'downloadFromPod'],
    [true, '$(trash) Delete orphaned pods', 'reapOrphans'],
    [true, '$(server-process) Select profile', 'selectProfile'],
    [true, '$(server-environment) Select context', 'selectContext'],
    [true, '$(symbol-namespace) Select namespace', 'selectNamespace'],
    [true, '$(output) Show Pod Runner log', 'showLogs'],
    [true, '$(gear) Open settings', 'openSettings'],
  ];
  const items = entries
    .filter(([shown]) => shown)
    .map(([, label, command]) => ({ label, command: `podRunner.${command}` }));
  const status = podRunnerStatus(ctx);
  const picked = await vscode.window.showQuickPick(items, {
    title: `Pod Runner · executor pod: ${status.executor} · kernel pod: ${status.kernel} (${kernelsText(status.kernels)})`,
  });
  if (picked) {
    await vscode.commands.executeCommand(picked.command);
  }
}

/**
 * Offers for deletion the pods that earlier windows of this workspace on this machine left (its
 * client label), none pre-selected. Pods of other clients (other machines, users, workspaces) may
 * be live kernels of someone else: they are listed only when asked for, under their own title.
 */
async function reapOrphans(ctx: Ctx): Promise<void> {
  const target = clusterTargetOf(ctx.settings);
  const { clientLabel, listManagedPods, reapOrphanedPods, sessionLabel } = await loadCore();
  const ownSession = ctx.podLabels[sessionLabel];
  const ownClient = ctx.podLabels[clientLabel];
  const orphans = (await listManagedPods(target)).filter((pod) => pod.session !== ownSession);
  const own = orphans.filter((pod) => pod.client === ownClient);
  const others = orphans.filter((pod) => pod.client !== ownClient);
  if (orphans.length === 0) {
    await vscode.window.showInformationMessage('Pod Runner: no orphaned pods.');
    return;
  }
  const item = (pod: ManagedPod) => ({
    label: pod.name,
    description: `${pod.phase}${pod.createdAt ? ` · created ${pod.createdAt}` : ''}`,
  });
  const showOthers = {
    label: '$(warning) Show pods of other clients…',
    description: `${others.length} pod(s) of other machines, users or workspaces`,
  };
  const picked = await vscode.window.showQuickPick(
    [...own.map(item), ...(others.length > 0 ? [showOthers] : [])],
    {
      title: `Pod Runner: delete pods that earlier windows of this workspace left (${own.length})`,
      canPickMany: true,
    },
  );
  let chosen = picked?.filter((choice) => choice !== showOthers) ?? [];
  if (picked?.includes(showOthers)) {
    const ofOthers = await vscode.window.showQuickPick(others.map(item), {
      title: 'Pod Runner: delete pods of OTHER clients (they may be in use by someone else)',
      canPickMany: true,
    });
    if (!ofOthers) {
      return;
    }
    chosen = [...chosen, ...ofOthers];
  }
  if (chosen.length > 0) {
    const deleted = await reapOrphanedPods({ ...target, only: chosen.map((pod) => pod.label) });
    ctx.logger.info(`deleted orphaned pods: ${deleted.join(', ')}`);
  }
}
