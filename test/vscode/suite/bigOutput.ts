import * as vscode from 'vscode';
import { defaultMaxOutputBytes } from '../../../src/core/index.ts';
import { cellText, check, runCell, type HostFeature } from './host.ts';

/** 12 MB of output in many writes, more than the cap (10 MiB): its head, then its tail. */
const bigOutput = [
  'import sys',
  "for part in ('a', 'b', 'c'):",
  '    for _ in range(100):',
  '        sys.stdout.write(part * 40_000)',
  "sys.stdout.write('\\nEND\\n')",
].join('\n');

const marker = /\n\.\.\. \[\d+ bytes of output truncated\] \.\.\.\n/;

/** The capped text: the head's first bytes, one marker, the tail's last, and no more than the cap. */
function checkCapped(text: string, where: string): void {
  const [head = '', tail = '', ...more] = text.split(marker);
  check(
    more.length === 0 && tail !== '',
    `${where}: no single marker in ${text.length} characters`,
  );
  check(head.startsWith('aaaa'), `${where}: the head starts ${JSON.stringify(head.slice(0, 20))}`);
  check(tail.endsWith('c\nEND\n'), `${where}: the tail ends ${JSON.stringify(tail.slice(-20))}`);
  const shown = Buffer.byteLength(head) + Buffer.byteLength(tail);
  check(
    shown <= defaultMaxOutputBytes,
    `${where}: ${shown} bytes shown, more than ${defaultMaxOutputBytes}`,
  );
}

export const bigOutputFeature: HostFeature = {
  feature: 'big output',
  tests: [
    {
      name: 'the output channel gets big output capped to its head and tail, with a marker',
      run: async (api) => {
        let written = '';
        const subscription = api.onDidWriteOutput((text) => (written += text));
        try {
          const result = await api.runCode('python', bigOutput);
          check(result.exitCode === 0, `exit code ${result.exitCode}`);
        } finally {
          subscription.dispose();
        }
        const body = written.slice(written.indexOf('\n', 1) + 1, written.lastIndexOf('■'));
        checkCapped(body, 'the output channel');
      },
    },
    {
      name: 'a stateless notebook cell gets big output in time, capped to its head and tail, with a marker',
      run: async () => {
        const notebook = await vscode.workspace.openNotebookDocument(
          'jupyter-notebook',
          new vscode.NotebookData([
            new vscode.NotebookCellData(vscode.NotebookCellKind.Code, bigOutput, 'python'),
          ]),
        );
        await vscode.window.showNotebookDocument(notebook);
        await vscode.commands.executeCommand('notebook.selectKernel', {
          id: 'pod-runner-stateless',
          extension: 'pod-runner.pod-runner',
        });
        await runCell(notebook, 0);
        check(notebook.cellAt(0).executionSummary?.success === true, 'the cell failed');
        checkCapped(cellText(notebook, 0), 'the cell');
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      },
    },
  ],
};
