import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stopServerProcess } from '../support/processes.ts';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = resolve(__dirname, '..', '..');
export const codeServerVersion = '4.100.3';
const cacheDir = join(repoRoot, '.cache', 'code-server');
export const codeServerBin = join(cacheDir, 'node_modules', '.bin', 'code-server');

/**
 * Installs code-server (a real VS Code 1.100 server and extension host) into a git-ignored cache,
 * seeding @vscode/ripgrep's download cache with Debian's rg so nothing is fetched from GitHub.
 */
export async function ensureCodeServer(
  log: (line: string) => void = () => undefined,
): Promise<string> {
  if (existsSync(installedMarker)) {
    return codeServerBin;
  }
  // Test files run in parallel processes: one installs, the others wait for it.
  return withInstallLock(async () => {
    if (existsSync(installedMarker)) {
      return codeServerBin;
    }
    await installCodeServer(log);
    await writeFile(installedMarker, `${codeServerVersion}\n`);
    return codeServerBin;
  });
}

const installedMarker = join(cacheDir, `installed-${codeServerVersion}`);
const installLock = join(repoRoot, '.cache', 'code-server.install-lock');

/** A lock directory (mkdir is atomic) holding its owner's pid; a dead owner's lock is taken over. */
async function withInstallLock<T>(action: () => Promise<T>): Promise<T> {
  await mkdir(join(repoRoot, '.cache'), { recursive: true });
  for (;;) {
    try {
      await mkdir(installLock);
      await writeFile(join(installLock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
      const owner = Number(await readFile(join(installLock, 'pid'), 'utf8').catch(() => ''));
      if (owner && !processAlive(owner)) {
        await rm(installLock, { recursive: true, force: true });
        continue;
      }
      await new Promise((done) => setTimeout(done, 500));
    }
  }
  try {
    return await action();
  } finally {
    await rm(installLock, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function installCodeServer(log: (line: string) => void): Promise<void> {
  if (!existsSync('/usr/bin/rg')) {
    throw new Error(
      "code-server needs Debian's ripgrep (apt-get install ripgrep) to install offline",
    );
  }
  log(`installing code-server ${codeServerVersion} into ${cacheDir} (about a minute)`);
  const tmp = join(cacheDir, 'tmp');
  const ripgrepCache = join(tmp, 'vscode-ripgrep-cache-1.15.11');
  await mkdir(ripgrepCache, { recursive: true });
  const staging = await mkdtemp(join(tmpdir(), 'pod-runner-rg-'));
  await copyFile('/usr/bin/rg', join(staging, 'rg'));
  await run('tar', [
    '-czf',
    join(ripgrepCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz'),
    '-C',
    staging,
    'rg',
  ]);
  await rm(staging, { recursive: true, force: true });
  await writeFile(
    join(cacheDir, 'package.json'),
    '{"name": "code-server-cache", "private": true}\n',
  );
  await run(
    'npm',
    [
      'install',
      `code-server@${codeServerVersion}`,
      '--foreground-scripts',
      '--no-audit',
      '--no-fund',
    ],
    {
      cwd: cacheDir,
      env: { ...process.env, TMPDIR: tmp, npm_config_unsafe_perm: 'true', npm_config_yes: 'true' },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface RunningCodeServer {
  url: string;
  port: number;
  home: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts code-server on 127.0.0.1 with throwaway config, data and extension directories.
 * `machineSettings` are the machine's own settings (code-server's window is a remote one), where
 * machine-scoped settings such as `podRunner.kubeconfig` are read; a workspace cannot set them.
 */
export async function startCodeServer(options: {
  workspace: string;
  env?: NodeJS.ProcessEnv;
  extensionsDir?: string;
  machineSettings?: Record<string, unknown>;
}): Promise<RunningCodeServer> {
  const bin = await ensureCodeServer();
  const home = await mkdtemp(join(tmpdir(), 'pod-runner-code-server-'));
  if (options.machineSettings) {
    await mkdir(join(home, 'user-data', 'Machine'), { recursive: true });
    await writeFile(
      join(home, 'user-data', 'Machine', 'settings.json'),
      JSON.stringify(options.machineSettings, null, 2),
    );
  }
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CACHE_HOME: join(home, 'cache'),
  };
  const child = spawn(
    bin,
    [
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--user-data-dir',
      join(home, 'user-data'),
      '--extensions-dir',
      options.extensionsDir ?? join(home, 'extensions'),
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      options.workspace,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`code-server exited: ${log}`);
    }
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) {
      break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`code-server did not start: ${log}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  return {
    url,
    port,
    home,
    process: child,
    stop: () => stopServerProcess(child, exited, home),
  };
}
