import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

const stopGraceMs = 10_000;

/** A long-running cluster component in its own process group, its output in a log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  /** Rejects if the process exits before `stop` was called. */
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  logPath: string,
  env: NodeJS.ProcessEnv = process.env,
): ManagedProcess {
  const logFd = openSync(logPath, 'a');
  // detached: its own process group, so stop() also reaches the children it starts (e.g. shims).
  const child: ChildProcess = spawn(command, args, {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env,
  });
  closeSync(logFd);
  let stopping = false;
  let hasExited = false;
  const exitedOrFailed = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => {
      hasExited = true;
      reject(new Error(`${name} could not start: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      hasExited = true;
      if (stopping) {
        resolve();
      } else {
        reject(new Error(`${name} exited (${signal ?? `code ${code}`}); see ${logPath}`));
      }
    });
  });
  // Callers race against `exited`; a rejection nobody awaits must not crash the CLI.
  exitedOrFailed.catch(() => undefined);
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    }
  };
  return {
    name,
    logPath,
    exited: exitedOrFailed,
    async stop() {
      stopping = true;
      if (hasExited) {
        signalGroup('SIGKILL');
        return;
      }
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), stopGraceMs);
      await exitedOrFailed.catch(() => undefined);
      clearTimeout(timer);
      // Children that ignored SIGTERM while their leader exited.
      signalGroup('SIGKILL');
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns true; fails early if the process exits. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  process?: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitError: Error | undefined;
  process?.exited.catch((error: unknown) => {
    exitError = error instanceof Error ? error : new Error(String(error));
  });
  for (;;) {
    if (exitError) {
      throw exitError;
    }
    if (await probe().catch(() => false)) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs / 1000} s${process ? `; see ${process.logPath}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
