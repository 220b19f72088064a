import type * as vscode from 'vscode';
import { podRunnerApi, type PodRunnerApi } from './api.ts';
import { registerCommands } from './commands.ts';
import { Ctx } from './ctx.ts';
import { createStatelessController } from './statelessController.ts';
import { createStatusBar } from './statusBar.ts';
import { registerCellLenses } from './cellCommands.ts';
import { registerAgentTool } from './agentTool.ts';

let current: Ctx | undefined;

/** Builds the window's context, registers everything through it, and returns the public API. */
export function activate(context: vscode.ExtensionContext): PodRunnerApi {
  const ctx = new Ctx(context);
  current = ctx;
  registerCommands(ctx);
  ctx.push(
    createStatelessController(ctx),
    createStatusBar(ctx),
    registerCellLenses(ctx),
    registerAgentTool(ctx),
  );
  // The status bar shows the pods the last window kept as soon as the window opens.
  void ctx.keptPods.discover();
  ctx.logger.info('Pod Runner activated');
  return podRunnerApi(ctx);
}

/**
 * Deletes this window's pods or leaves them for the next window (as cleanupPolicy says) before
 * the host goes away, then releases the window's context, so an activation may follow.
 */
export async function deactivate(): Promise<void> {
  const ctx = current;
  current = undefined;
  await ctx?.closePods();
  ctx?.dispose();
}
