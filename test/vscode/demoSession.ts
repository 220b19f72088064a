import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEmulator, type RunningEmulator } from '../emulator/index.ts';
import { codeServerBin, ensureCodeServer, repoRoot, startCodeServer } from './codeServer.ts';

const run = promisify(execFile);

export interface DemoSession {
  /** The workbench URL with the sample workspace open (127.0.0.1 only). */
  url: string;
  workspace: string;
  /** code-server's log directory (the extension's output channel is logged there). */
  logsDirectory: string;
  emulator: RunningEmulator;
  stop(): Promise<void>;
}

/**
 * What `npm start` runs: the packaged VSIX installed into code-server (a real VS Code in the
 * browser), the emulator, and the sample workspace pointed at it. `stop` ends all of it.
 */
export async function startDemoSession(say: (line: string) => void): Promise<DemoSession> {
  say('packaging the extension…');
  await run('npm', ['run', 'package', '--silent'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  await ensureCodeServer(say);
  const scratch = await mkdtemp(join(tmpdir(), 'pod-runner-start-'));
  const emulator = await startEmulator();
  try {
    say(`Kubernetes API emulator at ${emulator.url}`);
    const workspace = join(scratch, 'sample');
    await cp(join(repoRoot, 'test', 'vscode', 'sample'), workspace, { recursive: true });
    await mkdir(join(workspace, '.vscode'), { recursive: true });
    await setWorkspaceSetting(workspace, 'podRunner.context', 'pod-runner-emulator');
    await setWorkspaceSetting(workspace, 'workbench.startupEditor', 'none');
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
    const server = await startCodeServer({
      workspace,
      extensionsDir,
      machineSettings: { 'podRunner.kubeconfig': emulator.kubeconfigPath },
    });
    return {
      url: `${server.url}/?folder=${encodeURIComponent(workspace)}`,
      workspace,
      logsDirectory: join(server.home, 'user-data', 'logs'),
      emulator,
      stop: async () => {
        // The extension host goes first, so it is not cut off from the cluster mid-cleanup.
        await server.stop();
        await emulator.stop();
        await rm(scratch, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await emulator.stop();
    await rm(scratch, { recursive: true, force: true });
    throw error;
  }
}

/** Sets (or with undefined removes) a setting in the workspace's .vscode/settings.json. */
export async function setWorkspaceSetting(
  workspace: string,
  key: string,
  value: unknown,
): Promise<void> {
  const path = join(workspace, '.vscode', 'settings.json');
  const settings = JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as Record<
    string,
    unknown
  >;
  if (value === undefined) {
    delete settings[key];
  } else {
    settings[key] = value;
  }
  await writeFile(path, JSON.stringify(settings, null, 2));
}

/** What the extension logged to its "Pod Runner" output channel, in every window so far. */
export async function podRunnerLog(logsDirectory: string): Promise<string> {
  const files = (await readdir(logsDirectory, { recursive: true })).filter((file) =>
    file.endsWith('Pod Runner.log'),
  );
  const logs = await Promise.all(
    files
      .sort()
      .map(async (file) => `${file}:\n${await readFile(join(logsDirectory, file), 'utf8')}`),
  );
  return logs.join('\n');
}
