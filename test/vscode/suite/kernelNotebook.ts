import * as vscode from 'vscode';
import { withGatedGatewayStart } from './gatedGateway.ts';
import {
  check,
  waitFor,
  withTimeout,
  eventually,
  cellText,
  openKernelNotebook,
  runCell,
  type HostFeature,
} from './host.ts';

export const kernelNotebookFeature: HostFeature = {
  feature: 'the gateway kernel notebook controller',
  tests: [
    {
      name: 'the gateway kernel controller keeps state, shows images and errors in cells, and interrupts',
      run: async () => {
        const cells = [
          'x = 21',
          'print(x * 2)',
          'import matplotlib.pyplot as plt\n%matplotlib inline\nplt.plot([1, 3, 2])\nplt.show()',
          '1 / 0',
        ].map((code) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python'));
        const notebook = await vscode.workspace.openNotebookDocument(
          'jupyter-notebook',
          new vscode.NotebookData(cells),
        );
        await vscode.window.showNotebookDocument(notebook);
        await vscode.commands.executeCommand('notebook.selectKernel', {
          id: 'pod-runner-kernel',
          extension: 'pod-runner.pod-runner',
        });
        await vscode.commands.executeCommand('notebook.execute');
        const deadline = Date.now() + 180_000;
        while (
          notebook.cellAt(3).executionSummary?.success === undefined &&
          Date.now() < deadline
        ) {
          await new Promise((done) => setTimeout(done, 250));
        }
        const items = (index: number) => notebook.cellAt(index).outputs.flatMap((o) => o.items);
        const stdout = new TextDecoder().decode(
          items(1).find((i) => i.mime === 'application/vnd.code.notebook.stdout')?.data,
        );
        const describeCell = (index: number) =>
          items(index)
            .map((i) => `${i.mime}: ${new TextDecoder().decode(i.data).slice(0, 3000)}`)
            .join(' | ');
        check(
          stdout === '42\n',
          `state across cells: ${JSON.stringify(stdout)}; cell 1: ${describeCell(0)}; cell 2: ${describeCell(1)}`,
        );
        const png = items(2).find((i) => i.mime === 'image/png');
        check(
          png && png.data[1] === 0x50 && png.data[2] === 0x4e && png.data[3] === 0x47,
          `image/png bytes in the plot cell: ${items(2)
            .map((i) => i.mime)
            .join(',')}`,
        );
        const error = items(3).find((i) => i.mime === 'application/vnd.code.notebook.error');
        check(
          error && new TextDecoder().decode(error.data).includes('ZeroDivisionError'),
          'the error is an error output in the cell',
        );
        check(
          notebook.cellAt(3).executionSummary?.success === false,
          'the failing cell is marked failed',
        );
        check(
          (notebook.cellAt(1).executionSummary?.executionOrder ?? 0) > 0,
          'execution order from the kernel',
        );

        const sleeper = await vscode.workspace.openNotebookDocument(
          'jupyter-notebook',
          new vscode.NotebookData([
            new vscode.NotebookCellData(
              vscode.NotebookCellKind.Code,
              'import time\ntime.sleep(60)',
              'python',
            ),
          ]),
        );
        await vscode.window.showNotebookDocument(sleeper);
        await vscode.commands.executeCommand('notebook.selectKernel', {
          id: 'pod-runner-kernel',
          extension: 'pod-runner.pod-runner',
        });
        void vscode.commands.executeCommand('notebook.execute');
        const started = Date.now();
        while (
          !sleeper.cellAt(0).outputs.length &&
          Date.now() - started < 60_000 &&
          !sleeper.cellAt(0).executionSummary?.timing
        ) {
          await new Promise((done) => setTimeout(done, 250));
          if (Date.now() - started > 4_000) {
            break;
          }
        }
        await vscode.commands.executeCommand('notebook.cancelExecution');
        while (
          sleeper.cellAt(0).executionSummary?.success === undefined &&
          Date.now() - started < 60_000
        ) {
          await new Promise((done) => setTimeout(done, 250));
        }
        const interrupted = sleeper
          .cellAt(0)
          .outputs.flatMap((o) => o.items)
          .map((i) => new TextDecoder().decode(i.data))
          .join('');
        check(
          interrupted.includes('KeyboardInterrupt'),
          `interrupt reached the kernel: ${interrupted.slice(0, 200)}`,
        );
        check(Date.now() - started < 50_000, 'the interrupted cell ended long before 60 s');
      },
    },
    {
      name: 'input() asks with an input box; Restart Kernel clears the state; Show Pod Logs',
      run: async (api) => {
        const notebook = await openKernelNotebook([
          'value = input("Your name? ")\nprint("got", repr(value))',
          'x = 5',
          'print("x" in globals())',
        ]);
        const asking = runCell(notebook, 0);
        await waitFor(() => cellText(notebook, 0).includes('Your name? '), 120_000, 'the prompt');
        // The input box opens a moment after the prompt reaches the cell: accept once it is there.
        let answered = false;
        void asking.then(() => (answered = true));
        for (let attempt = 0; attempt < 40 && !answered; attempt++) {
          await new Promise((done) => setTimeout(done, 500));
          await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        }
        await asking;
        check(cellText(notebook, 0).includes("got ''"), `cell 1: ${cellText(notebook, 0)}`);
        check(api.status().kernel === 'ready', `kernel state ${api.status().kernel}`);
        check(api.status().text.includes('kernel ready'), `text ${api.status().text}`);

        await runCell(notebook, 1);
        await vscode.commands.executeCommand('podRunner.restartKernel');
        await runCell(notebook, 2);
        check(cellText(notebook, 2) === 'False\n', `after the restart: ${cellText(notebook, 2)}`);
        check(
          notebook.cellAt(2).executionSummary?.executionOrder === 1,
          `execution count restarts: ${notebook.cellAt(2).executionSummary?.executionOrder}`,
        );

        await vscode.commands.executeCommand('podRunner.showPodLogs', 'kernel');
        const document = vscode.window.activeTextEditor?.document;
        check(document?.uri.scheme === 'pod-runner-logs', `active: ${document?.uri.toString()}`);
        check(
          document.uri.path.endsWith(`/${api.kernelPodName()}.log`),
          `log of ${document.uri.path}`,
        );
        check(
          /Jupyter Kernel Gateway/.test(document.getText()),
          `log: ${document.getText().slice(0, 300)}`,
        );
      },
    },
    {
      name: 'a kernel cell cancelled while the gateway pod starts ends without running',
      run: (api) =>
        withGatedGatewayStart(api, async (gate) => {
          const notebook = await openKernelNotebook([
            'cancelled_cell_ran = True',
            'print("cancelled_cell_ran" in globals())',
          ]);
          void vscode.commands.executeCommand('notebook.cell.execute', {
            ranges: [{ start: 0, end: 1 }],
            document: notebook.uri,
          });
          await waitFor(() => api.status().kernel === 'starting', 30_000, 'the pod to start');
          await vscode.commands.executeCommand('notebook.cancelExecution');
          await gate.open();

          await runCell(notebook, 1);
          check(
            cellText(notebook, 1) === 'False\n',
            `the cancelled cell ran: ${cellText(notebook, 1)}`,
          );
          check(
            notebook.cellAt(1).executionSummary?.executionOrder === 1,
            `the kernel ran one cell before: ${notebook.cellAt(1).executionSummary?.executionOrder}`,
          );
          check(notebook.cellAt(0).outputs.length === 0, 'the cancelled cell has no output');
          check(
            notebook.cellAt(0).executionSummary?.success !== true,
            'the cancelled cell is not marked as run',
          );
        }),
    },
    {
      name: 'stopping while the gateway pod starts cancels the start and deletes the pod',
      run: (api) =>
        withGatedGatewayStart(api, async (gate) => {
          const starting = vscode.commands.executeCommand('podRunner.startKernelPod');
          const pod = await gate.runningPod();
          check(api.status().kernel === 'starting', `kernel state ${api.status().kernel}`);
          await withTimeout(api.stopPods(), 30_000, 'stopping during the start');
          check(api.status().kernel === 'none', `kernel state ${api.status().kernel}`);
          await withTimeout(starting, 10_000, 'the start command to end');
          await eventually(
            async () => !(await gate.gatewayPods()).includes(pod) || undefined,
            30_000,
            'the gateway pod to be deleted',
          );
        }),
    },
  ],
};
