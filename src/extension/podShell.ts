import { StringDecoder } from 'node:string_decoder';
import * as vscode from 'vscode';
import type { PodTerminal } from '../core/index.ts';
import type { Ctx } from './ctx.ts';
import type { PodTarget } from './podTargets.ts';

/** bash when the image has it, sh otherwise. */
const shellCommand = [
  '/bin/sh',
  '-c',
  'command -v bash >/dev/null 2>&1 && exec bash -l || exec sh',
];

/**
 * A VS Code terminal wired to an interactive exec (tty) in the pod: keystrokes go to the shell,
 * size changes follow the panel, and closing the terminal hangs up the shell.
 */
class PodShellPseudoterminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private terminal: PodTerminal | undefined;
  /** Keystrokes (or pasted text) that arrive before the exec connection is up. */
  private pendingInput: string[] = [];
  private closed = false;

  constructor(
    private readonly target: PodTarget,
    private readonly ctx: Ctx,
  ) {}

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    this.writeEmitter.fire(
      `\x1b[2mPod Runner: shell in ${this.target.namespace}/${this.target.podName}\x1b[0m\r\n`,
    );
    this.target
      .openTerminal({
        command: shellCommand,
        ...(dimensions ? { columns: dimensions.columns, rows: dimensions.rows } : {}),
      })
      .then(
        (terminal) => {
          if (this.closed) {
            terminal.close();
            return;
          }
          this.terminal = terminal;
          for (const data of this.pendingInput.splice(0)) {
            terminal.write(data);
          }
          const decoder = new StringDecoder('utf8');
          terminal.onData((chunk) => this.writeEmitter.fire(decoder.write(chunk)));
          terminal.onExit((exit) => {
            const text =
              'error' in exit
                ? `\r\n\x1b[31mPod Runner: ${exit.error.message}\x1b[0m\r\n`
                : `\r\n\x1b[2mPod Runner: the shell exited with code ${exit.exitCode}\x1b[0m\r\n`;
            this.writeEmitter.fire(text);
            this.closeEmitter.fire('error' in exit ? 1 : exit.exitCode);
          });
        },
        (error: unknown) => {
          this.ctx.logger.error(
            `cannot open a shell in pod ${this.target.podName}: ${String(error)}`,
          );
          this.writeEmitter.fire(
            `\x1b[31mPod Runner: cannot open a shell: ${(error as Error).message}\x1b[0m\r\n`,
          );
        },
      );
  }

  handleInput(data: string): void {
    if (this.terminal) {
      this.terminal.write(data);
    } else {
      this.pendingInput.push(data);
    }
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.terminal?.resize(dimensions.columns, dimensions.rows);
  }

  close(): void {
    this.closed = true;
    this.terminal?.close();
    this.writeEmitter.dispose();
    this.closeEmitter.dispose();
  }
}

export function openPodShell(ctx: Ctx, target: PodTarget): vscode.Terminal {
  const terminal = vscode.window.createTerminal({
    name: `Pod: ${target.podName}`,
    pty: new PodShellPseudoterminal(target, ctx),
    iconPath: new vscode.ThemeIcon('vm'),
  });
  terminal.show();
  return terminal;
}
