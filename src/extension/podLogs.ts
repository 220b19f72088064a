import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import { runningPods, type PodTarget } from './podTargets.ts';

export const podLogsScheme = 'pod-runner-logs';
const tailLines = 1000;

/**
 * Read-only documents with a pod's container log (`pod-runner-logs:/<namespace>/<pod>.log`),
 * read from the API each time the document is opened or refreshed.
 */
export class PodLogsProvider implements vscode.TextDocumentContentProvider {
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changeEmitter.event;

  constructor(private readonly ctx: Ctx) {}

  static uriFor(target: PodTarget): vscode.Uri {
    return vscode.Uri.from({
      scheme: podLogsScheme,
      path: `/${target.namespace}/${target.podName}.log`,
    });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const podName = uri.path
      .split('/')
      .pop()
      ?.replace(/\.log$/, '');
    const target = runningPods(this.ctx).find((pod) => pod.podName === podName);
    if (!target) {
      return `Pod ${podName ?? ''} is not running in this window any more.\n`;
    }
    try {
      const log = await target.readLogs(tailLines);
      return log || `(pod ${target.podName} has not logged anything)\n`;
    } catch (error) {
      return `Cannot read the log of pod ${target.podName}: ${(error as Error).message}\n`;
    }
  }

  refresh(uri: vscode.Uri): void {
    this.changeEmitter.fire(uri);
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}

export async function showPodLogs(ctx: Ctx, provider: PodLogsProvider, target: PodTarget) {
  const uri = PodLogsProvider.uriFor(target);
  provider.refresh(uri);
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(document, 'log');
  await vscode.window.showTextDocument(document, { preview: false });
  ctx.logger.info(`showing the log of pod ${target.namespace}/${target.podName}`);
  return document;
}
