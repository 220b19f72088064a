import { rm, writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { stripAnsi } from '../../../src/core/jupyterMessages.ts';
import { cellText, check, runCell, waitFor, withTimeout, type HostFeature } from './host.ts';
import {
  openProjectNotebook,
  outputDocument,
  projectPath,
  remoteRoot,
  runFromEditor,
} from './project.ts';

/** app/util.py's line that raises on a malformed row. */
const raisingLine = 7;

export const tracebacksFeature: HostFeature = {
  feature: 'tracebacks that point home',
  tests: [
    {
      name: 'a traceback in the output channel names the local files; its link opens app/util.py at the line',
      run: async (api) => {
        const written = await runFromEditor(api, 'podRunner.runFile', 'app/bad_row.py');
        const util = projectPath('app', 'util.py');
        check(
          written.includes(`File "${util}", line ${raisingLine}, in parse_row`),
          `the traceback names the local file: ${written}`,
        );
        check(
          written.includes(`File "${projectPath('app', 'bad_row.py')}", line 4`),
          `and the script: ${written}`,
        );
        const traceback = written.slice(written.indexOf('Traceback'));
        check(!traceback.includes(remoteRoot()), `no pod path is left: ${traceback}`);
        await waitFor(
          () => outputDocument()?.getText().includes(util) === true,
          20_000,
          'the output channel document',
        );
        const document = outputDocument()!;
        const links = await withTimeout(
          vscode.commands.executeCommand<vscode.DocumentLink[]>(
            'vscode.executeLinkProvider',
            document.uri,
          ),
          10_000,
          'the link provider',
        );
        const link = links.find(
          (candidate) =>
            candidate.target?.scheme === 'file' &&
            candidate.target.fsPath === util &&
            candidate.target.fragment === `L${raisingLine}`,
        );
        check(
          link?.target,
          `no link to ${util}#L${raisingLine}: ${links.map((l) => l.target?.toString()).join(', ')}`,
        );
        check(
          document.getText(link.range).includes(util),
          `the link covers the path: ${document.getText(link.range)}`,
        );
        await vscode.commands.executeCommand('vscode.open', link.target);
        await waitFor(
          () => {
            const editor = vscode.window.activeTextEditor;
            return (
              editor?.document.uri.fsPath === util &&
              editor.selection.active.line === raisingLine - 1
            );
          },
          10_000,
          `app/util.py open at line ${raisingLine}`,
        );
      },
    },
    {
      name: "a selection's traceback points at the editor's lines",
      run: async (api) => {
        const written = await runFromEditor(
          api,
          'podRunner.runSelection',
          'app/bad_row.py',
          new vscode.Selection(1, 0, 3, 200),
        );
        check(
          written.includes(`File "${projectPath('app', 'bad_row.py')}", line 4`),
          `the selection's own line: ${written}`,
        );
        check(
          written.includes(`File "${projectPath('app', 'util.py')}", line ${raisingLine}`),
          `the module's line: ${written}`,
        );
      },
    },
    {
      name: "a selection starting with a `# filename:` line still points at the editor's file and lines",
      run: async (api) => {
        const named = projectPath('app', 'named.py');
        await writeFile(
          named,
          "x = 1\n# filename: named_block.py\nprint('a')\nraise ValueError('boom')\n",
        );
        try {
          const written = await runFromEditor(
            api,
            'podRunner.runSelection',
            'app/named.py',
            new vscode.Selection(1, 0, 3, 200),
          );
          check(written.includes(`File "${named}", line 4`), `the selection's line: ${written}`);
        } finally {
          await rm(named, { force: true });
        }
      },
    },
    {
      name: 'a kernel notebook of the project runs in its folder; its error output names the local file and line',
      run: async () => {
        const notebook = await openProjectNotebook(
          'notebooks/failing.ipynb',
          [
            "print(open('../data/input.csv').readline().strip())",
            "from app.util import parse_row\nparse_row('pears,two,0.75')",
          ],
          'pod-runner-kernel',
        );
        await runCell(notebook, 0);
        check(
          cellText(notebook, 0) === 'name,quantity,price\n',
          `the notebook's folder is the working directory: ${cellText(notebook, 0)}`,
        );
        await runCell(notebook, 1);
        const error = notebook
          .cellAt(1)
          .outputs.flatMap((output) => output.items)
          .find((item) => item.mime === 'application/vnd.code.notebook.error');
        check(error, `an error output: ${cellText(notebook, 1)}`);
        const { stack } = JSON.parse(new TextDecoder().decode(error.data)) as { stack: string };
        const plain = stripAnsi(stack);
        check(
          plain.includes(`File ${projectPath('app', 'util.py')}:${raisingLine}`),
          `the traceback names the local file and line: ${plain}`,
        );
        check(!plain.includes(remoteRoot()), `no pod path is left: ${plain}`);
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      },
    },
  ],
};
