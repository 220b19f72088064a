import * as vscode from 'vscode';
import { takeApiServerDownFor } from '../../support/emulatorControl.ts';
import { gatewayAuthLines } from '../../support/gatewayCell.ts';
import { cellText, check, openKernelNotebook, runCell, waitFor, type HostFeature } from './host.ts';

const outageSeconds = 30;

/**
 * Runs about 40 s and counts its runs in `runs`. Its middle part waits until the gateway has no
 * socket open to any kernel (the outage cut them), so those lines are written while the client
 * is away and only the server's buffer can deliver them; the last line comes after the outage.
 */
const cellAcrossTheOutage = [
  'import json, os, time, urllib.request',
  'runs += 1',
  'started = time.time()',
  'print("before", flush=True)',
  'url = "http://127.0.0.1:%s/api/kernels" % os.environ["KG_PORT"]',
  ...gatewayAuthLines,
  'kernels = lambda: json.load(urllib.request.urlopen(urllib.request.Request(url, headers=gateway_auth)))',
  'while sum(kernel["connections"] for kernel in kernels()) > 0:',
  '    time.sleep(0.05)',
  'for second in range(3):',
  '    print(f"during {second}", flush=True)',
  '    time.sleep(5)',
  'while time.time() - started < 40:',
  '    time.sleep(0.5)',
  'print("after", flush=True)',
].join('\n');

export const outageFeature: HostFeature = {
  feature: 'an API server outage',
  tests: [
    {
      name: `a cell running across a ${outageSeconds} s API server outage completes with all its output, run once, the status bar showing reconnecting meanwhile; the next cell works`,
      run: async (api) => {
        await api.stopPods();
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const workspace = vscode.ConfigurationTarget.Workspace;
        const timeout = configuration.inspect<number>('timeout')?.workspaceValue;
        // The kernel takes the cell timeout when it starts: long enough for the cell.
        await configuration.update('timeout', 120, workspace);
        try {
          const notebook = await openKernelNotebook([
            'runs = 0',
            cellAcrossTheOutage,
            'print(runs)',
          ]);
          await runCell(notebook, 0);
          check(notebook.cellAt(0).executionSummary?.success, 'runs = 0 ran');
          const started = notebook.cellAt(1).executionSummary?.timing?.endTime;
          void vscode.commands.executeCommand('notebook.cell.execute', {
            ranges: [{ start: 1, end: 2 }],
            document: notebook.uri,
          });
          await waitFor(() => cellText(notebook, 1) === 'before\n', 60_000, 'the first line');
          await takeApiServerDownFor(outageSeconds);
          await waitFor(
            () => api.status().text.includes('kernel reconnecting…'),
            (outageSeconds - 5) * 1000,
            `the status bar to show the kernel reconnecting (it shows ${api.status().text})`,
          );
          check(
            cellText(notebook, 1) === 'before\n',
            `nothing arrives while down: ${JSON.stringify(cellText(notebook, 1))}`,
          );
          await waitFor(
            () => notebook.cellAt(1).executionSummary?.timing?.endTime !== started,
            120_000,
            `the cell to end (output: ${JSON.stringify(cellText(notebook, 1))})`,
          );
          check(
            notebook.cellAt(1).executionSummary?.success === true &&
              cellText(notebook, 1) === 'before\nduring 0\nduring 1\nduring 2\nafter\n',
            `the cell's whole output: ${JSON.stringify(cellText(notebook, 1))}`,
          );
          check(
            !api.status().text.includes('reconnecting'),
            `reconnected: the status bar shows ${api.status().text}`,
          );
          await runCell(notebook, 2);
          check(
            cellText(notebook, 2) === '1\n',
            `the cell ran once: runs is ${JSON.stringify(cellText(notebook, 2))}`,
          );
        } finally {
          await configuration.update('timeout', timeout, workspace);
          await api.stopPods();
          await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
        }
      },
    },
  ],
};
