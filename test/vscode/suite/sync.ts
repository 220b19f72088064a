import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { SyncResult } from '../../../src/core/index.ts';
import { cellText, check, runCell, withTimeout, type HostFeature } from './host.ts';
import {
  openProjectNotebook,
  projectFolder,
  projectPath,
  remoteRoot,
  runFromEditor,
} from './project.ts';

const settings = () => vscode.workspace.getConfiguration('podRunner');

export const syncFeature: HostFeature = {
  feature: 'the workspace in the pod',
  tests: [
    {
      name: 'Run File syncs the folder and runs app/main.py in place: imports and data paths work',
      run: async (api) => {
        const first = await runFromEditor(api, 'podRunner.runFile', 'app/main.py');
        check(first.includes('3 orders, total 5.00\n'), `first run: ${first}`);
        check(
          new RegExp(`synced \\d+ files, [\\d.]+ (B|KB), \\d+ ms → ${remoteRoot()}\\n`).test(first),
          `the header says what was synced: ${first}`,
        );
        check(/■ exit code 0/.test(first), `footer: ${first}`);
        const again = await runFromEditor(api, 'podRunner.runFile', 'app/main.py');
        check(
          /nothing changed since the last sync \(\d+ files, \d+ ms\)/.test(again),
          `the second run syncs nothing: ${again}`,
        );
        check(again.includes('3 orders, total 5.00\n'), `second run: ${again}`);
      },
    },
    {
      name: 'a changed file reaches the pod before the next run; Run Selection runs in the project',
      run: async (api) => {
        const csv = projectPath('data', 'input.csv');
        await writeFile(csv, 'name,quantity,price\napples,4,0.50\n');
        try {
          const written = await runFromEditor(
            api,
            'podRunner.runSelection',
            'app/main.py',
            new vscode.Selection(2, 0, 9, 0),
          );
          check(/synced 1 file, \d+ B, \d+ ms/.test(written), `one file synced: ${written}`);
          check(written.includes('1 orders, total 2.00\n'), `the selection's output: ${written}`);
        } finally {
          await writeFile(csv, 'name,quantity,price\napples,3,0.50\npears,2,0.75\nplums,10,0.20\n');
        }
      },
    },
    {
      name: 'a file over podRunner.sync.maxFileSizeMB is skipped and listed once, with the reason',
      run: async (api) => {
        const big = projectPath('data', 'big.bin');
        await writeFile(big, Buffer.alloc(4096, 1));
        await settings().update('sync.maxFileSizeMB', 0.001, vscode.ConfigurationTarget.Workspace);
        try {
          const first = await runFromEditor(api, 'podRunner.runFile', 'app/main.py');
          check(
            /not synced: data\/big\.bin \(.+\)\n/.test(first),
            `the skipped file is listed: ${first}`,
          );
          const second = await runFromEditor(api, 'podRunner.runFile', 'app/main.py');
          check(!second.includes('big.bin'), `listed only once: ${second}`);
          const inPod = await api.runCode('bash', `ls ${remoteRoot()}/data`);
          check(!inPod.output.includes('big.bin'), `the pod has: ${inPod.output}`);
        } finally {
          await settings().update(
            'sync.maxFileSizeMB',
            undefined,
            vscode.ConfigurationTarget.Workspace,
          );
          await rm(big, { force: true });
        }
      },
    },
    {
      name: 'Run File of a file the sync leaves out says why: an ignored one runs its text, a too large one does not run',
      run: async (api) => {
        await writeFile(projectPath('.gitignore'), 'scratch/\n');
        await mkdir(projectPath('scratch'), { recursive: true });
        await writeFile(projectPath('scratch', 'try.py'), "print('scratch ran')\n");
        await writeFile(projectPath('app', 'local_only.py'), "print('local only ran')\n");
        await writeFile(projectPath('app', 'big_job.py'), `# ${'x'.repeat(2000)}\nprint('big')\n`);
        await settings().update(
          'sync.exclude',
          ['app/local_only.py'],
          vscode.ConfigurationTarget.Workspace,
        );
        try {
          const ignored = await runFromEditor(api, 'podRunner.runFile', 'scratch/try.py');
          check(
            ignored.includes(
              'scratch/try.py is not synced (ignored by .gitignore or .git/info/exclude): ran its text\nscratch ran\n■ exit code 0',
            ),
            `an ignored file: ${ignored}`,
          );
          const excluded = await runFromEditor(api, 'podRunner.runFile', 'app/local_only.py');
          check(
            excluded.includes(
              'app/local_only.py is not synced (excluded by podRunner.sync.exclude): ran its text\nlocal only ran\n',
            ),
            `an excluded file: ${excluded}`,
          );
          await settings().update(
            'sync.maxFileSizeMB',
            0.001,
            vscode.ConfigurationTarget.Workspace,
          );
          const tooLarge = await runFromEditor(api, 'podRunner.runFile', 'app/big_job.py');
          check(
            /■ failed after [\d.]+ s: app\/big_job\.py is not synced to the pod \(.+\), so it was not run/.test(
              tooLarge,
            ) && !tooLarge.includes('\nbig\n'),
            `a file over maxFileSizeMB: ${tooLarge}`,
          );
        } finally {
          await settings().update('sync.exclude', undefined, vscode.ConfigurationTarget.Workspace);
          await settings().update(
            'sync.maxFileSizeMB',
            undefined,
            vscode.ConfigurationTarget.Workspace,
          );
          await rm(projectPath('.gitignore'), { force: true });
          await rm(projectPath('scratch'), { recursive: true, force: true });
          await rm(projectPath('app', 'local_only.py'), { force: true });
          await rm(projectPath('app', 'big_job.py'), { force: true });
          // The too large file's error message, so no later test takes it for its own.
          await vscode.commands.executeCommand('notifications.clearAll');
        }
      },
    },
    {
      name: "the folder's own podRunner.runFile.cwd is honoured: Run File runs in the file's folder",
      run: async (api) => {
        await writeFile(projectPath('app', 'where.py'), 'import os\nprint(os.getcwd())\n');
        const folderSettings = vscode.workspace.getConfiguration('podRunner', projectFolder().uri);
        await folderSettings.update(
          'runFile.cwd',
          'file',
          vscode.ConfigurationTarget.WorkspaceFolder,
        );
        try {
          const written = await runFromEditor(api, 'podRunner.runFile', 'app/where.py');
          // The pod's path, or the local one should bare paths ever be mapped.
          const inFileFolder = [`${remoteRoot()}/app`, projectPath('app')].some((folder) =>
            written.includes(`\n${folder}\n`),
          );
          check(inFileFolder, `the working directory: ${written}`);
        } finally {
          await folderSettings.update(
            'runFile.cwd',
            undefined,
            vscode.ConfigurationTarget.WorkspaceFolder,
          );
          await rm(projectPath('app', 'where.py'), { force: true });
        }
      },
    },
    {
      name: 'Sync Workspace to Pod sends what changed and resolves to the counts',
      run: async (api) => {
        const sync = () =>
          withTimeout(
            vscode.commands.executeCommand<SyncResult[]>('podRunner.syncWorkspace'),
            60_000,
            'Sync Workspace',
          );
        await sync();
        await mkdir(projectPath('data', 'new'), { recursive: true });
        await writeFile(projectPath('data', 'new', 'extra.txt'), 'extra\n');
        try {
          const results = await sync();
          check(results.length === 1, `one folder, one pod: ${JSON.stringify(results)}`);
          const [result] = results;
          check(result?.root === remoteRoot(), `root ${result?.root}`);
          check(result.sent === 1 && result.bytes === 6, `sent ${result.sent}, ${result.bytes} B`);
          const inPod = await api.runCode('bash', `cat ${remoteRoot()}/data/new/extra.txt`);
          check(inPod.output === 'extra\n', `the pod has: ${inPod.output}`);
        } finally {
          await rm(projectPath('data', 'new'), { recursive: true, force: true });
        }
      },
    },
    {
      name: "a stateless notebook of the project runs each cell in the notebook's folder, the root importable",
      run: async () => {
        const notebook = await openProjectNotebook(
          'notebooks/stateless.ipynb',
          [
            "from app.util import parse_row\nprint(open('../data/input.csv').readline().strip())\nprint(parse_row('figs,2,1.5'))",
          ],
          'pod-runner-stateless',
        );
        await runCell(notebook, 0);
        check(
          cellText(notebook, 0) === "name,quantity,price\n('figs', 2, 1.5)\n",
          `the cell's output: ${cellText(notebook, 0)}`,
        );
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      },
    },
    {
      name: 'an invalid sync setting fails the run with an error naming the setting',
      run: async (api) => {
        await settings().update('sync.exclude', 'data/', vscode.ConfigurationTarget.Workspace);
        try {
          const written = await runFromEditor(api, 'podRunner.runFile', 'app/main.py');
          check(
            /■ failed after [\d.]+ s: podRunner\.sync\.exclude: expected a list of glob strings/.test(
              written,
            ),
            `the run's footer: ${written}`,
          );
        } finally {
          await settings().update('sync.exclude', undefined, vscode.ConfigurationTarget.Workspace);
          // The run's error message, so no later test takes it for its own notification.
          await vscode.commands.executeCommand('notifications.clearAll');
        }
      },
    },
    {
      name: 'with podRunner.sync.enabled off, Run Selection sends only the text, as before',
      run: async (api) => {
        await settings().update('sync.enabled', false, vscode.ConfigurationTarget.Workspace);
        try {
          const written = await runFromEditor(
            api,
            'podRunner.runSelection',
            'hello.py',
            new vscode.Selection(1, 0, 4, 200),
          );
          check(!/synced|nothing changed/.test(written), `no sync: ${written}`);
          check(written.includes('Hello from pod'), `ran: ${written}`);
        } finally {
          await settings().update('sync.enabled', undefined, vscode.ConfigurationTarget.Workspace);
        }
      },
    },
  ],
};
