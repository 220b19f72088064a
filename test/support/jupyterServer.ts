import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PodJupyterConnectionInfo } from '../../src/core/jupyterConnection.ts';
import { eventually } from './emulatorFixture.ts';
import { stopServerProcess } from './processes.ts';
import { freePort } from '../vscode/codeServer.ts';

export function jupyterServerAvailable(): boolean {
  return (
    spawnSync('/usr/bin/python3', ['-c', 'import jupyter_server, ipykernel'], { encoding: 'utf8' })
      .status === 0
  );
}

export interface RunningJupyterServer {
  info: PodJupyterConnectionInfo;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts Debian's Jupyter Server on 127.0.0.1 with a token, in a throwaway home directory; a
 * given port and a new token stand for a server whose token was rotated.
 */
export async function startJupyterServer(
  options: { port?: number } = {},
): Promise<RunningJupyterServer> {
  const home = await mkdtemp(join(tmpdir(), 'pod-runner-jupyter-'));
  const port = options.port ?? (await freePort());
  const token = randomBytes(16).toString('hex');
  const child = spawn(
    '/usr/bin/python3',
    [
      '-m',
      'jupyter_server',
      `--ServerApp.token=${token}`,
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${port}`,
      '--ServerApp.open_browser=False',
      `--ServerApp.root_dir=${home}`,
      '--allow-root',
    ],
    {
      env: {
        ...process.env,
        HOME: home,
        JUPYTER_RUNTIME_DIR: join(home, 'runtime'),
        JUPYTER_DATA_DIR: join(home, 'data'),
        JUPYTER_CONFIG_DIR: join(home, 'config'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const info = { host: '127.0.0.1', port, token };
  await eventually(
    async () => {
      if (child.exitCode !== null) {
        throw new Error(`jupyter_server exited: ${log}`);
      }
      const response = await fetch(`http://127.0.0.1:${port}/api`).catch(() => undefined);
      return response?.ok ? true : undefined;
    },
    30_000,
    'Jupyter Server to serve',
  );
  return {
    info,
    process: child,
    stop: () => stopServerProcess(child, exited, home),
  };
}
