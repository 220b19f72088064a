import { rm, writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { stripAnsi } from '../../../src/core/jupyterMessages.ts';
import { gatewayKernels } from './gatewayKernels.ts';
import { check, eventually, waitFor, withTimeout, type HostFeature } from './host.ts';
import { projectPath } from './project.ts';

/** A file of three `# %%` cells: the data, a plot, and a cell that fails in a function. */
const cellsFile = [
  '# %% Load the data',
  'import os',
  "rows = open('data/input.csv').read().splitlines()",
  "print(len(rows), 'rows in', os.path.basename(os.getcwd()))",
  '',
  '# %% A plot',
  '%matplotlib inline',
  'import matplotlib.pyplot as plt',
  'plt.plot([1, 2, 3], [2, 4, 1])',
  'plt.show()',
  '',
  '# %% Uses the first cell',
  'total = len(rows)',
  "print('total', total)",
  'def share(n):',
  '    return 10 / (n - total)',
  'share(total)',
  '',
].join('\n');
/** 1-based lines of the file: the failing line, and the call in the cell that made it. */
const failingLine = 16;
const callingLine = 17;
const markerLines = [0, 5, 11];

const decoder = new TextDecoder();

function interactiveWindow(): vscode.NotebookDocument | undefined {
  return vscode.workspace.notebookDocuments.find(
    (notebook) => notebook.notebookType === 'interactive' && notebook.cellCount > 0,
  );
}

/** Waits until the window's cell `index` exists and its run has ended. */
async function ranCell(index: number): Promise<vscode.NotebookCell> {
  await waitFor(
    () => {
      const window = interactiveWindow();
      return (
        window !== undefined &&
        window.cellCount > index &&
        window.cellAt(index).executionSummary?.success !== undefined
      );
    },
    180_000,
    `cell ${index} of the Interactive Window to run`,
  );
  return interactiveWindow()!.cellAt(index);
}

function describe(cell: vscode.NotebookCell): string {
  return cell.outputs
    .flatMap((output) => output.items)
    .map((item) => `${item.mime}: ${decoder.decode(item.data).slice(0, 2000)}`)
    .join(' | ');
}

function stdoutOf(cell: vscode.NotebookCell): string {
  return cell.outputs
    .flatMap((output) => output.items)
    .filter((item) => item.mime === 'application/vnd.code.notebook.stdout')
    .map((item) => decoder.decode(item.data))
    .join('');
}

export const interactiveWindowFeature: HostFeature = {
  feature: 'the Interactive Window for # %% cells',
  tests: [
    {
      name: 'the lenses of a three-cell file run its cells in the Interactive Window on the gateway kernel: state, a plot, an error pointing at the file',
      run: async (api) => {
        const path = projectPath('cells.py');
        await writeFile(path, cellsFile);
        const uri = vscode.Uri.file(path);
        await vscode.window.showTextDocument(uri);
        const lenses = await withTimeout(
          vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri),
          20_000,
          'the code lenses',
        );
        const ours = lenses.filter((lens) => lens.command?.command.startsWith('podRunner.'));
        const titled = (title: string) =>
          ours.filter((lens) => lens.command?.title === title).map((lens) => lens.range.start.line);
        check(
          JSON.stringify(titled('Run Cell')) === JSON.stringify(markerLines) &&
            JSON.stringify(titled('Run Above')) === JSON.stringify(markerLines.slice(1)) &&
            JSON.stringify(titled('Run Below')) === JSON.stringify(markerLines),
          `lenses: ${ours.map((lens) => `${lens.command?.title}@${lens.range.start.line}`).join(', ')}`,
        );
        const run = async (index: number) => {
          const lens = ours.find(
            (candidate) =>
              candidate.command?.title === 'Run Cell' &&
              candidate.range.start.line === markerLines[index],
          )!;
          await vscode.commands.executeCommand(
            lens.command!.command,
            ...((lens.command!.arguments ?? []) as unknown[]),
          );
        };

        await run(0);
        const first = await ranCell(0);
        check(
          interactiveWindow()!.uri.path.endsWith('.interactive'),
          `an Interactive Window: ${interactiveWindow()!.uri.toString()}`,
        );
        check(
          first.document.getText() ===
            "import os\nrows = open('data/input.csv').read().splitlines()\nprint(len(rows), 'rows in', os.path.basename(os.getcwd()))",
          `the cell shows its source: ${first.document.getText()}`,
        );
        // Runs in the file's folder of the synced project, as a notebook there would.
        check(
          stdoutOf(first) === `4 rows in ${vscode.workspace.workspaceFolders![0]!.name}\n`,
          `the first cell: ${describe(first)}`,
        );

        await run(1);
        const plot = await ranCell(1);
        const png = plot.outputs
          .flatMap((output) => output.items)
          .find((i) => i.mime === 'image/png');
        check(
          png && decoder.decode(png.data.subarray(1, 4)) === 'PNG',
          `a plot: ${describe(plot)}`,
        );

        await run(2);
        const failing = await ranCell(2);
        check(stdoutOf(failing) === 'total 4\n', `state across cells: ${describe(failing)}`);
        const error = failing.outputs
          .flatMap((output) => output.items)
          .find((item) => item.mime === 'application/vnd.code.notebook.error');
        check(error, `an error output: ${describe(failing)}`);
        const { stack } = JSON.parse(decoder.decode(error.data)) as { stack: string };
        const plain = stripAnsi(stack);
        for (const line of [callingLine, failingLine]) {
          check(
            plain.includes(`File ${path}:${line}`),
            `the traceback names ${path}:${line}: ${plain}`,
          );
          check(
            new RegExp(`^-+> ${line} `, 'm').test(plain),
            `the arrow points at line ${line} of the file: ${plain}`,
          );
        }
        check(!/Cell In\[/.test(plain), `no cell frame is left: ${plain}`);
        check(
          api.status().kernels.interactive === 1 && /kernel \w+ \(\d+\)/.test(api.status().text),
          `the status bar counts the window's kernel: ${JSON.stringify(api.status())}`,
        );
      },
    },
    {
      name: 'Run Above, Run Selection and Shift+Enter add to the same window and kernel',
      run: async () => {
        const path = projectPath('cells.py');
        const editor = await vscode.window.showTextDocument(vscode.Uri.file(path));
        const before = interactiveWindow()!.cellCount;
        await vscode.commands.executeCommand(
          'podRunner.runCellsAbove',
          editor.document.uri,
          markerLines[2],
        );
        await ranCell(before + 1);
        check(
          stdoutOf(interactiveWindow()!.cellAt(before)).startsWith('4 rows'),
          `Run Above ran the first cell again: ${describe(interactiveWindow()!.cellAt(before))}`,
        );
        editor.selection = new vscode.Selection(13, 0, 13, 200);
        await vscode.commands.executeCommand('podRunner.runSelectionInInteractiveWindow');
        const selected = await ranCell(before + 2);
        check(stdoutOf(selected) === 'total 4\n', `the selection: ${describe(selected)}`);
        await vscode.workspace
          .getConfiguration('podRunner')
          .update('interactiveWindow.shiftEnter', true, vscode.ConfigurationTarget.Workspace);
        try {
          editor.selection = new vscode.Selection(2, 0, 2, 0);
          await vscode.commands.executeCommand('podRunner.runCurrentCellAndAdvance');
          await ranCell(before + 3);
          check(
            editor.selection.active.line === markerLines[1]! + 1,
            `the cursor moved to the next cell: line ${editor.selection.active.line}`,
          );
        } finally {
          await vscode.workspace
            .getConfiguration('podRunner')
            .update(
              'interactiveWindow.shiftEnter',
              undefined,
              vscode.ConfigurationTarget.Workspace,
            );
        }
      },
    },
    {
      name: 'closing the Interactive Window stops its kernel in the gateway pod',
      run: async (api) => {
        const gateway = api.kernelPodName();
        check(gateway, 'the gateway pod runs');
        const before = await gatewayKernels(gateway);
        const tab = vscode.window.tabGroups.all
          .flatMap((group) => group.tabs)
          // The window's tab input is not in the stable API: its title names it.
          .find((candidate) => candidate.label === 'Pod Runner: cells.py');
        check(tab, 'the Interactive Window has a tab');
        await vscode.window.tabGroups.close(tab);
        await waitFor(
          () => api.status().kernels.interactive === 0,
          60_000,
          'the window kernel to be forgotten',
        );
        await eventually(
          async () => {
            const after = await gatewayKernels(gateway);
            return after.length === before.length - 1 ? after : undefined;
          },
          60_000,
          `the gateway to run one kernel fewer than ${before.length}`,
        );
        await rm(projectPath('cells.py'), { force: true });
      },
    },
  ],
};
