import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { helperEnv, signalNumber, type PodSandbox } from './sandbox.ts';

/** Processes entered into a running pod: exec in a container, and TCP into the pod's network. */

export interface ExecOptions {
  sandbox: PodSandbox;
  containerPid: number;
  argv: string[];
  env: Record<string, string>;
  tty: boolean;
}

let ptyHelper: string | undefined;

function ptyHelperSource(): string {
  ptyHelper ??= readFileSync(join(__dirname, 'helpers', 'ptyExec.py'), 'utf8');
  return ptyHelper;
}

export interface ExecProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves once the process exited and its output was read to the end. */
  readonly done: Promise<{ exitCode: number; notFound: boolean }>;
  resize(columns: number, rows: number): void;
}

/** Runs a command inside a running container's namespaces and root, like CRI's ExecSync/Exec. */
export function execInContainer(options: ExecOptions): ExecProcess {
  const command = [
    '/bin/sh',
    '-c',
    'command -v "$1" >/dev/null 2>&1 || { printf x >&3; exit 127; }; exec 3>&-; exec "$@"',
    'sh',
    ...options.argv,
  ];
  // A TTY comes from the container's own devpts, as runc allocates it: the helper runs inside.
  const wrapped = options.tty ? ['/usr/bin/python3', '-c', ptyHelperSource(), ...command] : command;
  const launcher = [
    '--pdeathsig',
    'KILL',
    'nsenter',
    '--target',
    String(options.containerPid),
    '--mount',
    '--uts',
    '--ipc',
    '--net',
    '--pid',
    '--root',
    '--wd',
    '--',
    '/usr/bin/env',
    '-i',
    '--',
    ...Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
    ...wrapped,
  ];
  const child: ChildProcess = spawn('setpriv', launcher, {
    env: helperEnv(options.sandbox.directory),
    stdio: ['pipe', 'pipe', 'pipe', 'pipe', ...(options.tty ? (['pipe'] as const) : [])],
  });
  const notFoundPipe = child.stdio[3] as Readable;
  let notFound = false;
  notFoundPipe.on('data', () => (notFound = true));
  const closed = new Promise<number>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? 128 + signalNumber(signal))),
  );
  // A client that goes away mid-stream resets these pipes; that ends the stream, as in a kubelet,
  // and never the emulator.
  ignoreResets(child);
  // Piped at once: Node discards the output of a child that exits before its pipes are read, and
  // the WebSocket that consumes this output is attached only after the upgrade completes.
  const stdout = child.stdout!.pipe(new PassThrough());
  const stderr = child.stderr!.pipe(new PassThrough());
  return {
    stdin: child.stdin!,
    stdout,
    stderr,
    // Done once the process exited and its output has been read to the end.
    done: Promise.all([
      closed,
      finished(stdout).catch(() => undefined),
      finished(stderr).catch(() => undefined),
    ]).then(([exitCode]) => ({ exitCode, notFound })),
    resize(columns, rows) {
      const control = child.stdio[4] as Writable | undefined;
      control?.write(`${columns} ${rows}\n`);
    },
  };
}

/** Opens a TCP connection to 127.0.0.1:port inside the pod's network namespace. */
export function connectInSandbox(
  sandbox: PodSandbox,
  port: number,
  bridgeHelper: string,
  options: { host?: string; checkOnly?: boolean } = {},
): ChildProcess {
  return spawn(
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      'nsenter',
      `--net=/proc/${sandbox.pausePid}/ns/net`,
      '--',
      '/usr/bin/python3',
      bridgeHelper,
      String(port),
      options.host ?? '127.0.0.1',
      ...(options.checkOnly ? ['--check'] : []),
    ],
    { env: helperEnv(sandbox.directory), stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

/** Errors on a helper process's pipes (EPIPE, ECONNRESET when it dies) end them quietly. */
export function ignoreResets(child: ChildProcess): void {
  for (const stream of child.stdio) {
    stream?.on('error', () => undefined);
  }
}
