import * as vscode from 'vscode';
import { check, type HostFeature } from './host.ts';

export const statelessNotebookFeature: HostFeature = {
  feature: 'the stateless notebook controller',
  tests: [
    {
      name: 'the stateless notebook controller runs python and shell cells in the pod',
      run: async () => {
        const data = new vscode.NotebookData([
          new vscode.NotebookCellData(
            vscode.NotebookCellKind.Code,
            'print("cell one", 6 * 7)',
            'python',
          ),
          new vscode.NotebookCellData(
            vscode.NotebookCellKind.Code,
            'echo "shell $((2 + 3))"; exit 4',
            'shellscript',
          ),
        ]);
        const notebook = await vscode.workspace.openNotebookDocument('jupyter-notebook', data);
        await vscode.window.showNotebookDocument(notebook);
        await vscode.commands.executeCommand('notebook.selectKernel', {
          id: 'pod-runner-stateless',
          extension: 'pod-runner.pod-runner',
        });
        await vscode.commands.executeCommand('notebook.execute');
        const text = (index: number) =>
          notebook
            .cellAt(index)
            .outputs.flatMap((o) => o.items)
            .map((item) => new TextDecoder().decode(item.data))
            .join('');
        const deadline = Date.now() + 120_000;
        while (
          !(
            notebook.cellAt(1).executionSummary?.success === false &&
            text(1).includes('exit code 4')
          ) &&
          Date.now() < deadline
        ) {
          await new Promise((done) => setTimeout(done, 200));
        }
        check(text(0) === 'cell one 42\n', `cell 1 output: ${JSON.stringify(text(0))}`);
        check(notebook.cellAt(0).executionSummary?.success === true, 'cell 1 succeeded');
        check(text(1).startsWith('shell 5\n'), `cell 2 output: ${JSON.stringify(text(1))}`);
        check(
          notebook.cellAt(1).executionSummary?.success === false,
          'cell 2 failed with its exit code',
        );
        const orders = [0, 1].map((i) => notebook.cellAt(i).executionSummary?.executionOrder ?? 0);
        check(orders[1]! > orders[0]!, `execution order ${orders.join(',')}`);
      },
    },
  ],
};
