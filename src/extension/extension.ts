import * as vscode from 'vscode';
import type { Logger } from '../core/index.ts';

/** Adapts the extension's LogOutputChannel to the core Logger interface. */
function channelLogger(channel: vscode.LogOutputChannel): Logger {
  return {
    trace: (message) => channel.trace(message),
    debug: (message) => channel.debug(message),
    info: (message) => channel.info(message),
    warn: (message) => channel.warn(message),
    error: (message) => channel.error(message),
  };
}

export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Pod Runner', { log: true });
  context.subscriptions.push(channel);
  const logger = channelLogger(channel);
  context.subscriptions.push(
    vscode.commands.registerCommand('podRunner.showLogs', () => channel.show()),
  );
  logger.info('Pod Runner activated');
}

export function deactivate(): void {
  // Disposables registered on the context are released by VS Code.
}
