import * as vscode from 'vscode';
import { withGatedGatewayStart } from './gatedGateway.ts';
import {
  cellText,
  check,
  eventually,
  openKernelNotebook,
  runCell,
  waitFor,
  withTimeout,
  type HostFeature,
} from './host.ts';

/** True once the cell's execution has ended, whatever its outcome (cancelled included). */
const ended = (notebook: vscode.NotebookDocument, index: number) =>
  notebook.cellAt(index).executionSummary?.timing?.endTime !== undefined;

function executeCells(notebook: vscode.NotebookDocument, start: number, end: number): void {
  void vscode.commands.executeCommand('notebook.cell.execute', {
    ranges: [{ start, end }],
    document: notebook.uri,
  });
}

/** A cell ended without an outcome and without output: it was cancelled, it neither ran nor failed. */
function checkCancelled(notebook: vscode.NotebookDocument, index: number): void {
  const summary = notebook.cellAt(index).executionSummary;
  check(
    summary?.success === undefined,
    `cell ${index} is marked ${String(summary?.success)}, not cancelled`,
  );
  check(
    notebook.cellAt(index).outputs.length === 0,
    `cell ${index} has output: ${cellText(notebook, index).slice(0, 300)}`,
  );
}

export const kernelStopFeature: HostFeature = {
  feature: 'stopping the kernel pod while cells use it',
  tests: [
    {
      name: 'Stop while a cell starts the kernel pod cancels the start at once and the cell',
      run: (api) =>
        withGatedGatewayStart(api, async (gate) => {
          const notebook = await openKernelNotebook(['stopped_cell_ran = True']);
          executeCells(notebook, 0, 1);
          const pod = await gate.runningPod();
          check(api.status().kernel === 'starting', `kernel state ${api.status().kernel}`);
          // The gate stays closed: the stop must not wait for the start to finish.
          await withTimeout(api.stopPods(), 30_000, 'stopping while a cell starts the kernel pod');
          check(api.status().kernel === 'none', `kernel state ${api.status().kernel}`);
          await waitFor(() => ended(notebook, 0), 30_000, 'the cell to end');
          checkCancelled(notebook, 0);
          await eventually(
            async () => !(await gate.gatewayPods()).includes(pod) || undefined,
            30_000,
            'the gateway pod to be deleted',
          );
        }),
    },
    {
      name: 'Stop with cells queued cancels them; the next cell runs on a new kernel pod',
      run: async (api) => {
        await api.stopPods();
        const notebook = await openKernelNotebook([
          'import time\ntime.sleep(60)',
          'queued_cell_ran = True',
          'print("queued_cell_ran" in globals())',
        ]);
        executeCells(notebook, 0, 2);
        await waitFor(() => api.status().kernel === 'busy', 120_000, 'the first cell to run');
        const first = api.kernelPodName();
        await withTimeout(api.stopPods(), 60_000, 'stopping while cells run and wait');
        check(api.status().kernel === 'none', `kernel state after the stop ${api.status().kernel}`);
        await waitFor(() => ended(notebook, 0), 30_000, 'the running cell to end');
        check(
          notebook.cellAt(0).executionSummary?.success !== true,
          'the stopped cell is not marked as run',
        );
        // The queued cell never started, so it has no timing to wait for: it must not have run.
        checkCancelled(notebook, 1);

        await runCell(notebook, 2);
        check(
          cellText(notebook, 2) === 'False\n',
          `the next cell, on a new kernel: ${cellText(notebook, 2).slice(0, 300)}`,
        );
        // Runs again only if its cancelled execution has ended (VS Code runs a cell once at a time).
        await runCell(notebook, 1);
        check(notebook.cellAt(1).executionSummary?.success === true, 'the cell runs when asked');
        check(api.kernelPodName() !== first, 'a new kernel pod runs the next cell');
        check(api.status().kernel === 'ready', `kernel state ${api.status().kernel}`);
      },
    },
    {
      name: 'closing a notebook while its cell runs ends the cell; the kernel pod serves the next notebook',
      run: async (api) => {
        const notebook = await openKernelNotebook(['import time\ntime.sleep(60)']);
        executeCells(notebook, 0, 1);
        await waitFor(() => api.status().kernel === 'busy', 120_000, 'the cell to run');
        const pod = api.kernelPodName();
        await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
        await waitFor(() => notebook.isClosed, 30_000, 'the notebook to close');
        await waitFor(() => api.status().kernel === 'ready', 30_000, 'the kernel pod to be idle');

        const next = await openKernelNotebook(['print(6 * 7)']);
        await runCell(next, 0);
        check(cellText(next, 0) === '42\n', `the next notebook: ${cellText(next, 0)}`);
        check(
          next.cellAt(0).executionSummary?.executionOrder === 1,
          'the next notebook has a kernel of its own',
        );
        check(api.kernelPodName() === pod, 'the same kernel pod serves the next notebook');
        await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      },
    },
  ],
};
