import * as vscode from 'vscode';
import { listManagedPods, reapOrphanedPods } from '../core/index.ts';
import { selectContext, selectNamespace } from './clusterPickers.ts';
import type { Ctx } from './ctx.ts';
import { codeFromEditor, runInPod } from './runInPod.ts';

type Command = (...args: unknown[]) => unknown;

/** Every contributed command, as a factory of its handler over the window's context. */
export const commandFactories: Record<string, (ctx: Ctx) => Command> = {
  runSelection: (ctx) => () => runFromEditor(ctx, false),
  runFile: (ctx) => () => runFromEditor(ctx, true),
  selectContext: (ctx) => () => guarded(ctx, 'cannot list contexts', () => selectContext(ctx)),
  selectNamespace: (ctx) => () =>
    guarded(ctx, 'cannot list namespaces', () => selectNamespace(ctx)),
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
  startKernelPod: (ctx) => () => notYet(ctx, 'Kernel pods are started by the notebook controller.'),
  restartKernel: (ctx) => () =>
    guarded(ctx, 'cannot restart the kernel', async () => {
      const notebook = vscode.window.activeNotebookEditor?.notebook;
      if (notebook) {
        await ctx.kernels?.restartKernel(notebook);
      }
    }),
  stopKernelPod: (ctx) => () =>
    guarded(ctx, 'cannot stop the kernel pod', async () => ctx.kernels?.stop()),
  showPodLogs: (ctx) => () => notYet(ctx, 'Pod logs are shown in the Pod Runner log on failures.'),
  openShell: (ctx) => () => notYet(ctx, 'Opening a shell in the pod is not available yet.'),
  reapOrphans: (ctx) => () => guarded(ctx, 'cannot delete orphaned pods', () => reapOrphans(ctx)),
};

export function registerCommands(ctx: Ctx): void {
  for (const [name, factory] of Object.entries(commandFactories)) {
    ctx.push(vscode.commands.registerCommand(`podRunner.${name}`, factory(ctx)));
  }
}

async function guarded<T>(
  ctx: Ctx,
  message: string,
  action: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await action();
  } catch (error) {
    // Not awaited: a command must not wait for the user to dismiss its error.
    void ctx.showError(message, error);
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
  await guarded(ctx, `running ${code.source} failed`, () =>
    runInPod(ctx, code.language, code.code, code.source),
  );
}

async function managePods(ctx: Ctx): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [
    { label: '$(play) Start executor pod', command: 'podRunner.startExecutorPod' },
    { label: '$(debug-restart) Restart executor pod', command: 'podRunner.restartExecutorPod' },
    { label: '$(debug-stop) Stop executor pod', command: 'podRunner.stopExecutorPod' },
    { label: '$(server-environment) Select context', command: 'podRunner.selectContext' },
    { label: '$(symbol-namespace) Select namespace', command: 'podRunner.selectNamespace' },
    { label: '$(output) Show logs', command: 'podRunner.showLogs' },
    { label: '$(gear) Open settings', command: 'podRunner.openSettings' },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: `Pod Runner · executor pod: ${ctx.executor.state}`,
  });
  if (picked) {
    await vscode.commands.executeCommand(picked.command);
  }
}

/** Offers Pod Runner's pods that this window does not use (left by crashed windows) for deletion. */
async function reapOrphans(ctx: Ctx): Promise<void> {
  const settings = ctx.settings;
  const target = {
    ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
    ...(settings.context ? { context: settings.context } : {}),
    ...(settings.namespace ? { namespace: settings.namespace } : {}),
  };
  const mine = [ctx.executor.podName].filter((name): name is string => name !== undefined);
  const orphans = (await listManagedPods(target)).filter((pod) => !mine.includes(pod.name));
  if (orphans.length === 0) {
    await vscode.window.showInformationMessage('Pod Runner: no orphaned pods.');
    return;
  }
  const picked = await vscode.window.showQuickPick(
    orphans.map((pod) => ({
      label: pod.name,
      description: `${pod.phase}${pod.createdAt ? ` · created ${pod.createdAt}` : ''}`,
      picked: true,
    })),
    { title: 'Pod Runner: delete orphaned pods', canPickMany: true },
  );
  if (picked?.length) {
    const deleted = await reapOrphanedPods({
      ...target,
      keep: mine,
      only: picked.map((item) => item.label),
    });
    ctx.logger.info(`deleted orphaned pods: ${deleted.join(', ')}`);
  }
}

async function notYet(ctx: Ctx, message: string): Promise<void> {
  ctx.logger.info(message);
  await vscode.window.showInformationMessage(`Pod Runner: ${message}`);
}
