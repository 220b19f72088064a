import * as vscode from 'vscode';
import type { CommandLineCodeResult } from '../core/index.ts';
import { runOutputLanguage } from './tracebackLinks.ts';

/** The "Pod Runner: Output" channel: each run's header, streamed output and footer. */
export class RunOutput implements vscode.Disposable {
  /** Its own language, so the traceback link provider applies to this channel only. */
  private readonly channel = vscode.window.createOutputChannel(
    'Pod Runner: Output',
    runOutputLanguage,
  );
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  /** Everything written to the channel, as it is written (for other extensions and tests). */
  readonly onDidWrite = this.writeEmitter.event;

  show(): void {
    this.channel.show(true);
  }

  write(text: string): void {
    if (text === '') {
      return;
    }
    this.channel.append(text);
    this.writeEmitter.fire(text);
  }

  header(
    target: { context: string; namespace: string; pod: string },
    language: string,
    source: string,
  ): void {
    this.write(
      `\n▶ ${source} · ${language} · pod ${target.namespace}/${target.pod} · context ${target.context}\n`,
    );
  }

  footer(result: CommandLineCodeResult | Error, startedAt: number): void {
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    if (result instanceof Error) {
      this.write(`\n■ failed after ${seconds} s: ${result.message}\n`);
      return;
    }
    const ending = result.output.endsWith('\n') || result.output === '' ? '' : '\n';
    const note =
      result.exitCode === 124
        ? ' (timed out)'
        : /Code execution was cancelled\.$/.test(result.output)
          ? ' (cancelled)'
          : '';
    this.write(`${ending}■ exit code ${result.exitCode}${note} · ${seconds} s\n`);
  }

  dispose(): void {
    this.channel.dispose();
    this.writeEmitter.dispose();
  }
}
