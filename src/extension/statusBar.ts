import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import type { KernelCounts } from './gatewayKernels.ts';
import type { PodState, PodStateHolder } from './podState.ts';

const icons: Record<PodState, string> = {
  none: '$(cloud)',
  starting: '$(sync~spin)',
  ready: '$(vm-running)',
  busy: '$(loading~spin)',
  error: '$(error)',
};

/** The state the icon shows when the two pods differ: the one that needs attention first. */
const precedence: PodState[] = ['error', 'starting', 'busy', 'ready', 'none'];

export interface PodRunnerStatus {
  executor: PodState;
  kernel: PodState;
  /** The profile the window's pods use, if any. */
  profile: string | undefined;
  /** Pods the last window kept that this one has not reused yet, by name. */
  kept: string[];
  /** The status-bar text, icons included. */
  text: string;
  /** The kernels running in the gateway pod for this window. */
  kernels: KernelCounts;
}

/** A pod's state as shown: `reconnecting…` while its connection waits for the API server. */
function shownState(holder: PodStateHolder): PodState | 'reconnecting…' {
  return holder.reconnecting && holder.state !== 'none' ? 'reconnecting…' : holder.state;
}

/** The pod's part of the status-bar text: none for no pod, unless the last window kept one. */
function podPart(
  pod: string,
  holder: PodStateHolder,
  keptName: string | undefined,
  kernels = 0,
): string[] {
  if (holder.state === 'none') {
    return keptName === undefined ? [] : [`${pod} kept`];
  }
  return [`${pod} ${shownState(holder)}${kernels > 0 ? ` (${kernels})` : ''}`];
}

/** The gateway's kernels: `2 notebooks, 1 Interactive Window`, or `no kernels`. */
export function kernelsText(counts: KernelCounts): string {
  const named = (count: number, what: string) =>
    count > 0 ? [`${count} ${what}${count === 1 ? '' : 's'}`] : [];
  const parts = [
    ...named(counts.notebooks, 'notebook'),
    ...named(counts.interactive, 'Interactive Window'),
    ...named(counts.agent, 'agent kernel'),
  ];
  return parts.length > 0 ? parts.join(', ') : 'no kernels';
}

export function podRunnerStatus(ctx: Ctx): PodRunnerStatus {
  const executor = ctx.executor.status.state;
  const kernel = ctx.kernels.status.state;
  const shown = precedence.find((state) => state === executor || state === kernel) ?? 'none';
  const reconnecting = ctx.executor.status.reconnecting || ctx.kernels.status.reconnecting;
  const waiting = ctx.keptPods.waiting;
  const parts = [
    ...podPart('executor', ctx.executor.status, waiting.executor),
    ...podPart('kernel', ctx.kernels.status, waiting.gateway, kernelTotal(ctx)),
  ];
  const profile = ctx.profiles.activeName;
  const icon = reconnecting && shown !== 'error' ? '$(sync~spin)' : icons[shown];
  const text = `${icon} Pod Runner${profile === undefined ? '' : ` (${profile})`}: ${parts.length ? parts.join(' · ') : 'no pods'}`;
  const kept = [waiting.executor, waiting.gateway].filter((name) => name !== undefined);
  return { executor, kernel, profile, kept, text, kernels: ctx.kernels.kernelCounts };
}

function kernelTotal(ctx: Ctx): number {
  const { notebooks, interactive, agent } = ctx.kernels.kernelCounts;
  return notebooks + interactive + agent;
}

function podLine(
  label: string,
  name: string | undefined,
  holder: PodStateHolder,
  keptName: string | undefined,
): string {
  if (name === undefined && holder.state === 'none' && keptName !== undefined) {
    return `${label}: ${keptName} (kept by the last window; reused on first use)`;
  }
  const error = holder.lastError ? ` — ${holder.lastError.message.split('\n')[0]}` : '';
  return `${label}: ${name ?? '—'} (${shownState(holder)})${error}`;
}

/** One status-bar item: context/namespace and the pods' states; a click opens pod management. */
export function createStatusBar(ctx: Ctx): vscode.Disposable {
  const item = vscode.window.createStatusBarItem(
    'podRunner.status',
    vscode.StatusBarAlignment.Left,
    10,
  );
  item.name = 'Pod Runner';
  item.command = 'podRunner.managePods';
  const update = () => {
    let target = '';
    try {
      const settings = ctx.settings;
      target = `${settings.context ?? 'current context'}/${settings.namespace ?? 'default namespace'}`;
    } catch {
      target = 'settings invalid';
    }
    const status = podRunnerStatus(ctx);
    const waiting = ctx.keptPods.waiting;
    item.text = status.text;
    const lines = [
      `**Pod Runner** · ${target}${status.profile === undefined ? '' : ` · profile ${status.profile}`}`,
      podLine('Executor pod', ctx.executor.podName, ctx.executor.status, waiting.executor),
      `${podLine('Kernel pod', ctx.kernels.podName, ctx.kernels.status, waiting.gateway)} · kernels: ${kernelsText(status.kernels)}`,
      '[Manage Pods](command:podRunner.managePods) · [Select Profile](command:podRunner.selectProfile) · [Select Context](command:podRunner.selectContext) · [Show Logs](command:podRunner.showLogs)',
    ];
    item.tooltip = new vscode.MarkdownString(lines.join('\n\n'));
    item.tooltip.isTrusted = {
      enabledCommands: [
        'podRunner.managePods',
        'podRunner.selectProfile',
        'podRunner.selectContext',
        'podRunner.showLogs',
      ],
    };
    item.backgroundColor =
      status.executor === 'error' || status.kernel === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : undefined;
  };
  update();
  item.show();
  return vscode.Disposable.from(
    item,
    ctx.executor.status.onDidChange(update),
    ctx.kernels.status.onDidChange(update),
    ctx.kernels.onDidChangeKernels(update),
    ctx.profiles.onDidChange(update),
    ctx.keptPods.onDidChange(update),
    vscode.workspace.onDidChangeConfiguration(
      (e) => e.affectsConfiguration('podRunner') && update(),
    ),
  );
}
