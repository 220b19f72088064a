import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import type { PodState } from './executorSession.ts';

const icons: Record<PodState, string> = {
  none: '$(cloud)',
  starting: '$(sync~spin)',
  ready: '$(vm-running)',
  busy: '$(loading~spin)',
  error: '$(error)',
};

/** One status-bar item: context/namespace and the executor pod's state; a click opens pod management. */
export function createStatusBar(ctx: Ctx): vscode.StatusBarItem {
  const item = vscode.window.createStatusBarItem(
    'podRunner.status',
    vscode.StatusBarAlignment.Left,
    10,
  );
  item.name = 'Pod Runner';
  item.command = 'podRunner.managePods';
  const update = () => {
    const state = ctx.executor.state;
    let target = '';
    try {
      const settings = ctx.settings;
      target = `${settings.context ?? 'current context'}/${settings.namespace ?? 'default namespace'}`;
    } catch {
      target = 'settings invalid';
    }
    item.text = `${icons[state]} Pod Runner: ${state}`;
    item.tooltip = new vscode.MarkdownString(
      `**Pod Runner** · ${target}\n\nExecutor pod: ${ctx.executor.podName ?? '—'} (${state})${ctx.executor.lastError ? `\n\nLast error: ${ctx.executor.lastError.message.split('\n')[0]}` : ''}\n\n[Select Context](command:podRunner.selectContext) · [Show Logs](command:podRunner.showLogs)`,
    );
    item.tooltip.isTrusted = { enabledCommands: ['podRunner.selectContext', 'podRunner.showLogs'] };
    item.backgroundColor =
      state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  };
  update();
  ctx.push(
    item,
    ctx.executor.onDidChangeState(update),
    vscode.workspace.onDidChangeConfiguration(
      (e) => e.affectsConfiguration('podRunner') && update(),
    ),
  );
  item.show();
  return item;
}
