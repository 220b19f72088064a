import * as vscode from 'vscode';
import { registerCommands } from './commands.ts';
import { Ctx, type PodRunnerApi } from './ctx.ts';
import { runInPod } from './runInPod.ts';
import { KernelController } from './kernelController.ts';
import { createStatelessController } from './statelessController.ts';
import { createStatusBar, podRunnerStatus } from './statusBar.ts';

let current: Ctx | undefined;

/** Builds the window's context, registers everything through it, and returns the public API. */
export function activate(context: vscode.ExtensionContext): PodRunnerApi {
  const ctx = new Ctx(context);
  current = ctx;
  context.subscriptions.push(ctx);
  const kernels = new KernelController(ctx);
  ctx.kernels = kernels;
  ctx.push(kernels);
  registerCommands(ctx);
  createStatusBar(ctx);
  ctx.push(createStatelessController(ctx));
  ctx.logger.info('Pod Runner activated');
  return {
    runCode: (language, code, options) =>
      runInPod(ctx, language, code, 'API call', options?.signal),
    onDidWriteOutput: ctx.output.onDidWrite,
    executorPodName: () => ctx.executor.podName,
    kernelPodName: () => kernels.podName,
    status: () => podRunnerStatus(ctx),
    stopPods: async () => {
      await ctx.executor.stop(true);
      await kernels.stop();
    },
  };
}

/** Deletes this window's pods (unless autoRemove is off) before the extension host goes away. */
export async function deactivate(): Promise<void> {
  const ctx = current;
  current = undefined;
  if (ctx && ctx.settings.cleanupPolicy === 'deleteOnClose') {
    await Promise.all([ctx.executor.stop(), ctx.kernels?.stop()]);
  }
}
