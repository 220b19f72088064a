import * as vscode from 'vscode';
import { check, withTimeout, type HostFeature } from './host.ts';

export const podShellFeature: HostFeature = {
  feature: 'shells in pods',
  tests: [
    {
      name: 'Open Shell runs an interactive tty shell in the executor pod',
      run: async (api) => {
        await api.runCode('bash', 'true');
        const opened = new Promise<vscode.Terminal>((resolve) => {
          const listener = vscode.window.onDidOpenTerminal((terminal) => {
            listener.dispose();
            resolve(terminal);
          });
        });
        await vscode.commands.executeCommand('podRunner.openShell', 'executor');
        const terminal = await withTimeout(opened, 10_000, 'opening the terminal');
        check(terminal.name === `Pod: ${api.executorPodName()}`, `terminal ${terminal.name}`);
        const closed = new Promise<void>((resolve) => {
          const listener = vscode.window.onDidCloseTerminal((t) => {
            if (t === terminal) {
              listener.dispose();
              resolve();
            }
          });
        });
        terminal.sendText('echo "$((6*7)) $(tty)" > /workspace/shell-proof; exit 5');
        await withTimeout(closed, 30_000, 'the shell to exit');
        check(terminal.exitStatus?.code === 5, `exit status ${terminal.exitStatus?.code}`);
        const proof = await api.runCode('bash', 'cat /workspace/shell-proof');
        check(/^42 \/dev\/pts\/\d+\n$/.test(proof.output), `the shell wrote ${proof.output}`);
      },
    },
  ],
};
