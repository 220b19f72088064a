import type * as vscode from 'vscode';
import { podRunnerApi, type PodRunnerApi } from './api.ts';
import { registerCommands } from './commands.ts';
import { Ctx } from './ctx.ts';
import { createStatelessController } from './statelessController.ts';
import { createStatusBar } from './statusBar.ts';

let current: Ctx | undefined;

/** Builds the window's context, registers everything through it, and returns the public API. */
export function activate(context: vscode.ExtensionContext): PodRunnerApi {
  const ctx = new Ctx(context);
  current = ctx;
  registerCommands(ctx);
  ctx.push(createStatelessController(ctx), createStatusBar(ctx));
  ctx.logger.info('Pod Runner activated');
  return podRunnerApi(ctx);
}

/** Deletes this window's pods (as cleanupPolicy and autoRemove say) before the host goes away. */
export async function deactivate(): Promise<void> {
  const ctx = current;
  current = undefined;
  await ctx?.closePods();
}
