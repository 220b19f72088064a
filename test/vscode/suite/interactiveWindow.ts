import { rm, writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { stripAnsi } from '../../../src/core/jupyterMessages.ts';
import type { PodRunnerApi } from '../../../src/extension/api.ts';
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

export function describe(cell: vscode.NotebookCell): string {
  return cell.outputs
    .flatMap((output) => output.items)
    .map((item) => `${item.mime}: ${decoder.decode(item.data).slice(0, 2000)}`)
    .join(' | ');
}

export function stdoutOf(cell: vscode.NotebookCell): string {
  return cell.outputs
    .flatMap((output) => output.items)
    .filter((item) => item.mime === 'application/vnd.code.notebook.stdout')
    .map((item) => decoder.decode(item.data))
    .join('');
}

/**
 * Closes the Interactive Window titled `title` and waits until the window's kernel is forgotten
 * and gone from the gateway pod.
 */
async function closeWindow(api: PodRunnerApi, title: string): Promise<void> {
  const gateway = api.kernelPodName();
  check(gateway, 'the gateway pod runs');
  const before = await gatewayKernels(gateway);
  const windows = api.status().kernels.interactive;
  const tab = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    // The window's tab input is not in the stable API: its title names it.
    .find((candidate) => candidate.label === title);
  check(tab, `the Interactive Window ${title} has a tab`);
  await vscode.window.tabGroups.close(tab);
  await waitFor(
    () => api.status().kernels.interactive === windows - 1,
    60_000,
    "the window's kernel to be forgotten",
  );
  await eventually(
    async () => {
      const after = await gatewayKernels(gateway);
      return after.length === before.length - 1 ? after : undefined;
    },
    60_000,
    `the gateway to run one kernel fewer than ${before.length}`,
  );
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
        const configuration = vscode.workspace.getConfiguration('podRunner');
        await configuration.update(
          'interactiveWindow.codeLenses',
          false,
          vscode.ConfigurationTarget.Workspace,
        );
        try {
          const without = await vscode.commands.executeCommand<vscode.CodeLens[]>(
            'vscode.executeCodeLensProvider',
            uri,
          );
          check(
            !without.some((lens) => lens.command?.command.startsWith('podRunner.')),
            'no lenses with podRunner.interactiveWindow.codeLenses off',
          );
        } finally {
          await configuration.update(
            'interactiveWindow.codeLenses',
            undefined,
            vscode.ConfigurationTarget.Workspace,
          );
        }
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
        // Asked for at once: each run's cells go after the other's, and each cell runs.
        await Promise.all([
          vscode.commands.executeCommand(
            'podRunner.runCellsAbove',
            editor.document.uri,
            markerLines[2],
          ),
          vscode.commands.executeCommand('podRunner.runCell', editor.document.uri, markerLines[0]),
        ]);
        await ranCell(before + 2);
        const added = [0, 1, 2].map((offset) => interactiveWindow()!.cellAt(before + offset));
        const firstLines = added.map((cell) => cell.document.lineAt(0).text).join(' / ');
        // Either run may come first; the two cells of Run Above stay together, in order.
        check(
          added.every((cell) => cell.executionSummary?.success === true) &&
            [
              'import os / import os / %matplotlib inline',
              'import os / %matplotlib inline / import os',
            ].includes(firstLines),
          `three cells ran, each run's together: ${firstLines}: ${added.map(describe).join(' / ')}`,
        );
        editor.selection = new vscode.Selection(13, 0, 13, 200);
        await vscode.commands.executeCommand('podRunner.runSelectionInInteractiveWindow');
        const selected = await ranCell(before + 3);
        check(stdoutOf(selected) === 'total 4\n', `the selection: ${describe(selected)}`);
        await vscode.workspace
          .getConfiguration('podRunner')
          .update('interactiveWindow.shiftEnter', true, vscode.ConfigurationTarget.Workspace);
        try {
          editor.selection = new vscode.Selection(2, 0, 2, 0);
          await vscode.commands.executeCommand('podRunner.runCurrentCellAndAdvance');
          await ranCell(before + 4);
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
      name: "the window's Interrupt stops the running cell with KeyboardInterrupt and cancels the queued one; the kernel keeps its state",
      run: async (api) => {
        const path = projectPath('slow.py');
        await writeFile(
          path,
          "# %%\nkept = 7\n\n# %%\nimport time\nprint('started', flush=True)\ntime.sleep(300)\n\n# %%\nprint(kept * 6)\n",
        );
        try {
          const uri = vscode.Uri.file(path);
          await vscode.window.showTextDocument(uri);
          await vscode.commands.executeCommand('podRunner.runFileInInteractiveWindow', uri);
          const window = () =>
            vscode.workspace.notebookDocuments.find(
              (notebook) =>
                notebook.notebookType === 'interactive' &&
                notebook.cellCount > 1 &&
                notebook.cellAt(1).document.getText().includes('time.sleep(300)'),
            );
          await waitFor(
            () => window() !== undefined && stdoutOf(window()!.cellAt(1)) === 'started\n',
            120_000,
            'the slow cell to start',
          );
          // The window's toolbar button: VS Code finds the window's editor by its URI.
          await vscode.commands.executeCommand('notebook.interruptExecution', window()!.uri);
          const [interrupted, queued] = [window()!.cellAt(1), window()!.cellAt(2)];
          await waitFor(
            () => interrupted.executionSummary?.success !== undefined,
            30_000,
            'the interrupted cell to end',
          );
          check(
            interrupted.executionSummary?.success === false &&
              describe(interrupted).includes('KeyboardInterrupt'),
            `the cell was interrupted: ${describe(interrupted)}`,
          );
          check(queued.outputs.length === 0, `the queued cell did not run: ${describe(queued)}`);
          await vscode.window.showTextDocument(uri, {
            selection: new vscode.Selection(9, 0, 9, 20),
          });
          await vscode.commands.executeCommand('podRunner.runSelectionInInteractiveWindow');
          const after = await (async () => {
            await waitFor(
              () =>
                window()!.cellCount > 3 &&
                window()!.cellAt(3).executionSummary?.success !== undefined,
              60_000,
              'a cell after the interrupt',
            );
            return window()!.cellAt(3);
          })();
          check(stdoutOf(after) === '42\n', `the kernel kept its state: ${describe(after)}`);
          await closeWindow(api, 'Pod Runner: slow.py');
        } finally {
          await rm(path, { force: true });
        }
      },
    },
    {
      name: 'closing the Interactive Window stops its kernel in the gateway pod',
      run: async (api) => {
        await closeWindow(api, 'Pod Runner: cells.py');
        await rm(projectPath('cells.py'), { force: true });
      },
    },
  ],
};
