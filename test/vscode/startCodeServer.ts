import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEmulator } from '../emulator/index.ts';
import { codeServerBin, ensureCodeServer, repoRoot, startCodeServer } from './codeServer.ts';

const run = promisify(execFile);

/**
 * `npm start`: packages the VSIX, starts the emulator and code-server (a real VS Code in the
 * browser, on 127.0.0.1) with the extension installed and a sample workspace pointed at the
 * emulator. Ctrl-C stops everything; the emulator's pods go with it.
 */
async function main(): Promise<void> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say('packaging the extension…');
  await run('npm', ['run', 'package', '--silent'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  await ensureCodeServer(say);
  const emulator = await startEmulator();
  say(`Kubernetes API emulator at ${emulator.url}`);
  const scratch = await mkdtemp(join(tmpdir(), 'pod-runner-start-'));
  const workspace = join(scratch, 'sample');
  await cp(join(repoRoot, 'test', 'vscode', 'sample'), workspace, { recursive: true });
  await mkdir(join(workspace, '.vscode'), { recursive: true });
  await writeFile(
    join(workspace, '.vscode', 'settings.json'),
    JSON.stringify(
      {
        'podRunner.kubeconfig': emulator.kubeconfigPath,
        'podRunner.context': 'pod-runner-emulator',
        'workbench.startupEditor': 'none',
      },
      null,
      2,
    ),
  );
  const extensionsDir = join(scratch, 'extensions');
  await run(
    codeServerBin,
    ['--extensions-dir', extensionsDir, '--install-extension', join(repoRoot, 'pod-runner.vsix')],
    {
      env: {
        ...process.env,
        HOME: scratch,
        XDG_CONFIG_HOME: join(scratch, 'config'),
        XDG_DATA_HOME: join(scratch, 'data'),
      },
    },
  );
  const server = await startCodeServer({ workspace, extensionsDir });
  say(`\nVS Code with Pod Runner: ${server.url}/?folder=${encodeURIComponent(workspace)}`);
  say('Open hello.py and run a selection, or plot.ipynb and run all. Ctrl-C stops everything.');
  let stopping = false;
  const stop = () => {
    if (stopping) {
      return;
    }
    stopping = true;
    say('\nstopping code-server and the emulator (every pod goes with it)…');
    void Promise.all([server.stop(), emulator.stop()])
      .then(() => rm(scratch, { recursive: true, force: true }))
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `npm start failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
