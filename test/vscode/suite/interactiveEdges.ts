import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { stripAnsi } from '../../../src/core/jupyterMessages.ts';
import { withGatedGatewayStart } from './gatedGateway.ts';
import { gatewayKernels } from './gatewayKernels.ts';
import { cellText, check, openKernelNotebook, runCell, waitFor, type HostFeature } from './host.ts';
import { describe, stdoutOf } from './interactiveWindow.ts';
import { projectPath } from './project.ts';

const decoder = new TextDecoder();

function windowWith(text: string): vscode.NotebookDocument | undefined {
  return vscode.workspace.notebookDocuments.find(
    (notebook) =>
      notebook.notebookType === 'interactive' &&
      notebook.getCells().some((cell) => cell.document.getText().includes(text)),
  );
}

function windowTabs(): string[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .map((tab) => tab.label)
    .filter((label) => label.startsWith('Pod Runner:'));
}

async function closeTab(title: string): Promise<void> {
  const tab = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .find((candidate) => candidate.label === title);
  check(tab, `a tab ${title}`);
  await vscode.window.tabGroups.close(tab);
}

async function ended(window: () => vscode.NotebookDocument | undefined, index: number) {
  await waitFor(
    () => {
      const notebook = window();
      return (
        notebook !== undefined &&
        notebook.cellCount > index &&
        notebook.cellAt(index).executionSummary?.success !== undefined
      );
    },
    180_000,
    `cell ${index} of the window to end`,
  );
  return window()!.cellAt(index);
}

function errorText(cell: vscode.NotebookCell): string {
  const error = cell.outputs
    .flatMap((output) => output.items)
    .find((item) => item.mime === 'application/vnd.code.notebook.error');
  check(error, `an error: ${describe(cell)}`);
  return stripAnsi((JSON.parse(decoder.decode(error.data)) as { stack: string }).stack);
}

/** Writes a project file for the test, and removes it (and closes every editor) after it. */
async function withFile(name: string, text: string, run: (uri: vscode.Uri) => Promise<void>) {
  const path = projectPath(name);
  await writeFile(path, text);
  try {
    await run(vscode.Uri.file(path));
  } finally {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await rm(path, { force: true });
  }
}

export const interactiveEdgesFeature: HostFeature = {
  feature: 'Interactive Window edge cases',
  tests: [
    {
      name: 'a window closed while the gateway pod starts leaves no kernel behind',
      run: (api) =>
        withGatedGatewayStart(api, (gate) =>
          withFile('leak.py', '# %%\nleaked_cell = 1\n', async (uri) => {
            await vscode.window.showTextDocument(uri);
            await vscode.commands.executeCommand('podRunner.runCell', uri, 0);
            await waitFor(() => api.status().kernel === 'starting', 30_000, 'the gateway start');
            await closeTab('Pod Runner: leak.py');
            await waitFor(() => windowWith('leaked_cell') === undefined, 30_000, 'the close');
            await gate.open();
            // A notebook's cell asks for its kernel after the closed window's request: once it
            // ran, a kernel for the window would have been asked for already.
            const notebook = await openKernelNotebook(['print("after")']);
            await runCell(notebook, 0);
            const kernels = await gatewayKernels(api.kernelPodName()!);
            check(
              kernels.length === 1 && api.status().kernels.interactive === 0,
              `only the notebook's kernel runs: ${JSON.stringify(kernels)}, ${JSON.stringify(api.status().kernels)}`,
            );
          }),
        ),
    },
    {
      name: 'Shift+Enter pressed twice at once runs the current cell, then the next',
      run: () =>
        withFile(
          'advance.py',
          '# %%\nfirst = 1\n\n# %%\nsecond = 2\n\n# %%\nthird = 3\n',
          async (uri) => {
            const editor = await vscode.window.showTextDocument(uri);
            editor.selection = new vscode.Selection(1, 0, 1, 0);
            await Promise.all([
              vscode.commands.executeCommand('podRunner.runCurrentCellAndAdvance'),
              vscode.commands.executeCommand('podRunner.runCurrentCellAndAdvance'),
            ]);
            await ended(() => windowWith('first = 1'), 1);
            const texts = windowWith('first = 1')!
              .getCells()
              .map((cell) => cell.document.getText());
            check(
              JSON.stringify(texts) === JSON.stringify(['first = 1', 'second = 2']) &&
                editor.selection.active.line === 7,
              `two presses ran ${JSON.stringify(texts)}; cursor at line ${editor.selection.active.line}`,
            );
          },
        ),
    },
    {
      name: "after the kernel dies and the server restarts it, a typed cell's error is not mapped to the file",
      run: () =>
        withFile(
          'crash.py',
          '# %%\n\n\n\n\nbefore_crash = 1\n\n# %%\nimport os\nos._exit(1)\n',
          async (uri) => {
            await vscode.window.showTextDocument(uri);
            await vscode.commands.executeCommand('podRunner.runCell', uri, 0);
            await ended(() => windowWith('before_crash'), 0);
            await vscode.commands.executeCommand('podRunner.runCell', uri, 7);
            const window = windowWith('before_crash')!;
            await ended(() => window, 1);
            // What the window's input box adds: a cell without the file's metadata.
            const edit = new vscode.WorkspaceEdit();
            edit.set(window.uri, [
              vscode.NotebookEdit.insertCells(window.cellCount, [
                new vscode.NotebookCellData(
                  vscode.NotebookCellKind.Code,
                  'typed = 1\n1/0',
                  'python',
                ),
              ]),
            ]);
            check(await vscode.workspace.applyEdit(edit), 'the typed cell was added');
            const index = window.cellCount - 1;
            await vscode.commands.executeCommand('notebook.cell.execute', {
              ranges: [{ start: index, end: index + 1 }],
              document: window.uri,
            });
            const plain = errorText(await ended(() => window, index));
            check(!plain.includes('crash.py'), `the typed cell's error names crash.py: ${plain}`);
          },
        ),
    },
    {
      name: "the toolbar's Restart Kernel restarts a profile's kernel, and an Interactive Window's (its folder kept)",
      run: async () => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        await configuration.update(
          'profiles',
          { 'rv-small': {} },
          vscode.ConfigurationTarget.Workspace,
        );
        try {
          const notebook = await vscode.workspace.openNotebookDocument(
            'jupyter-notebook',
            new vscode.NotebookData(
              ['before_restart = 1', "print('before_restart' in globals())"].map(
                (code) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python'),
              ),
            ),
          );
          await vscode.window.showNotebookDocument(notebook);
          await vscode.commands.executeCommand('notebook.selectKernel', {
            id: 'pod-runner-kernel-profile-rv-small',
            extension: 'pod-runner.pod-runner',
          });
          await runCell(notebook, 0);
          // What VS Code passes from a notebook's toolbar.
          await vscode.commands.executeCommand('podRunner.restartKernel', {
            ui: true,
            notebookEditor: { notebookUri: notebook.uri },
          });
          await runCell(notebook, 1);
          check(
            cellText(notebook, 1).trim() === 'False',
            `after restart: ${cellText(notebook, 1)}`,
          );
        } finally {
          await vscode.commands.executeCommand('workbench.action.closeAllEditors');
          await configuration.update('profiles', undefined, vscode.ConfigurationTarget.Workspace);
        }
        await mkdir(projectPath('rsub'), { recursive: true });
        try {
          await withFile(
            'rsub/restart.py',
            "# %%\nimport os\nmarker = 1\n\n# %%\nimport os\nprint(os.path.basename(os.getcwd()), 'marker' in globals())\n",
            async (uri) => {
              await vscode.window.showTextDocument(uri);
              await vscode.commands.executeCommand('podRunner.runCell', uri, 0);
              const window = () => windowWith('marker = 1');
              await ended(window, 0);
              await vscode.commands.executeCommand('podRunner.restartKernel', {
                ui: true,
                notebookEditor: { notebookUri: window()!.uri },
              });
              await vscode.commands.executeCommand('podRunner.runCell', uri, 4);
              const after = await ended(window, 1);
              check(stdoutOf(after) === 'rsub False\n', `after restart: ${describe(after)}`);
            },
          );
        } finally {
          await rm(projectPath('rsub'), { recursive: true, force: true });
        }
      },
    },
    {
      name: 'a file starting with a whitespace-only line points its error at the right line',
      run: () =>
        withFile('formfeed.py', '\f\nformfeed = 1/0\n', async (uri) => {
          await vscode.window.showTextDocument(uri);
          await vscode.commands.executeCommand('podRunner.runFileInInteractiveWindow', uri);
          const plain = errorText(await ended(() => windowWith('formfeed'), 0));
          check(
            plain.includes(`${uri.fsPath}:2`) && /^-+> 2 /m.test(plain),
            `the error is on line 2 of the file: ${plain}`,
          );
        }),
    },
    {
      name: 'no lenses or cell commands in notebook cells or the window input box; Run Above on the first cell opens nothing',
      run: () =>
        withFile('focus.py', '# %%\nfocus_cell = 1\n\n# %%\nsecond = 2\n', async (uri) => {
          const notebook = await vscode.workspace.openNotebookDocument(
            'jupyter-notebook',
            new vscode.NotebookData([
              new vscode.NotebookCellData(
                vscode.NotebookCellKind.Code,
                '# %% first\nnotebook_cell = 1\n# %% second\nprint(notebook_cell)',
                'python',
              ),
            ]),
          );
          await vscode.window.showNotebookDocument(notebook);
          const inCell = await vscode.commands.executeCommand<vscode.CodeLens[]>(
            'vscode.executeCodeLensProvider',
            notebook.cellAt(0).document.uri,
          );
          check(
            !inCell.some((lens) => lens.command?.command.startsWith('podRunner.')),
            'no lenses in a notebook cell',
          );
          const editor = await vscode.window.showTextDocument(uri);
          editor.selection = new vscode.Selection(1, 0, 1, 0);
          await vscode.commands.executeCommand('podRunner.runCellsAbove');
          check(windowTabs().length === 0, `Run Above opened ${JSON.stringify(windowTabs())}`);
          await vscode.commands.executeCommand('podRunner.runCell', uri, 0);
          await ended(() => windowWith('focus_cell'), 0);
          await vscode.commands.executeCommand('interactive.input.focus');
          await waitFor(
            () =>
              vscode.window.activeTextEditor?.document.uri.scheme === 'vscode-interactive-input',
            10_000,
            'the input box to be the active editor',
          );
          const input = vscode.window.activeTextEditor!;
          await input.edit((edit) =>
            edit.insert(new vscode.Position(0, 0), '# %% pasted\npasted_in_box = 1\n'),
          );
          const inInput = await vscode.commands.executeCommand<vscode.CodeLens[]>(
            'vscode.executeCodeLensProvider',
            input.document.uri,
          );
          await vscode.commands.executeCommand('podRunner.runCurrentCellAndAdvance');
          await vscode.commands.executeCommand('podRunner.runSelectionInInteractiveWindow');
          check(
            !inInput.some((lens) => lens.command?.command.startsWith('podRunner.')) &&
              JSON.stringify(windowTabs()) === JSON.stringify(['Pod Runner: focus.py']) &&
              input.document.getText() === '# %% pasted\npasted_in_box = 1\n',
            `in the input box: ${inInput.length} lenses, windows ${JSON.stringify(windowTabs())}, text ${JSON.stringify(input.document.getText())}`,
          );
        }),
    },
  ],
};
