import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { RunningEmulator } from '../emulator/index.ts';
import { apiRequest, eventually, managedNames } from '../support/emulatorFixture.ts';
import { runToEnd } from '../support/pythonVenv.ts';

export const repoRoot = join(__dirname, '..', '..');

/** The server as `npx pod-runner-mcp` runs it, from the sources (node + tsx). */
export const serverCommand = {
  command: process.execPath,
  args: ['--import', 'tsx', join(repoRoot, 'src', 'mcp', 'cli.ts')],
};

export interface StdioSession {
  client: Client;
  transport: StdioClientTransport;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code once the server process has ended. */
  exited: Promise<number | null>;
  pid: number;
}

/** Every server a test file started, so `stopAll` can end any a failed test left running. */
const started = new Set<StdioSession>();

/** Starts the server over stdio with `args` and connects the SDK's own client to it. */
export async function connectStdio(args: string[]): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: serverCommand.command,
    args: [...serverCommand.args, ...args],
    cwd: repoRoot,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'pod-runner-test', version: '1.0.0' });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) {
    throw new Error('the server process did not start');
  }
  const session: StdioSession = {
    client,
    transport,
    stderr: () => stderr,
    exited: processExit(pid),
    pid,
  };
  started.add(session);
  return session;
}

/** Polls /proc: the transport's child is not ours to wait on. */
async function processExit(pid: number): Promise<number | null> {
  await eventually(
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    10 * 60_000,
    `process ${pid} to exit`,
  );
  return null;
}

/** Closes every session still open (its server then deletes its pod). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...started].map(async (session) => {
      await session.client.close().catch(() => undefined);
      await session.exited;
    }),
  );
  started.clear();
}

export function textOf(result: unknown): string {
  const content = (result as CallToolResult).content;
  return content
    .filter((item) => item.type === 'text')
    .map((item) => item.text)
    .join('\n');
}

export async function runCode(
  session: { client: Client },
  tool: string,
  code: string,
  options: { signal?: AbortSignal } = {},
): Promise<CallToolResult> {
  return (await session.client.callTool({ name: tool, arguments: { code } }, undefined, {
    timeout: 180_000,
    ...options,
  })) as CallToolResult;
}

/** Pod Runner's pods in the emulator (all namespaces). */
export function pods(emulator: RunningEmulator): Promise<string[]> {
  return managedNames(emulator, 'pods');
}

export async function waitUntilPodGone(emulator: RunningEmulator, name: string): Promise<void> {
  await eventually(async () => !(await pods(emulator)).includes(name), 30_000, `pod ${name} gone`);
}

/** Waits until the pod ended by itself (its idle stop): phase Succeeded; if not, its log says why. */
export async function waitUntilPodSucceeded(
  emulator: RunningEmulator,
  name: string,
): Promise<void> {
  const path = `/api/v1/namespaces/default/pods/${name}`;
  try {
    await eventually(
      async () => {
        const { body } = await apiRequest(emulator, 'GET', path);
        return (body as { status?: { phase?: string } }).status?.phase === 'Succeeded';
      },
      60_000,
      `pod ${name} to stop by itself`,
    );
  } catch (error) {
    const log = await apiRequest(emulator, 'GET', `${path}/log`);
    throw new Error(`${(error as Error).message}; the pod's log:\n${log.text.slice(-4000)}`);
  }
}

/**
 * A server with `--idle-timeout 3` whose pod stops by itself after `first` ran: `second` runs in
 * a fresh pod and its result says so first. Returns what `second` printed after that notice;
 * the session is closed and its pod gone when it returns.
 */
export async function afterIdleStop(
  emulator: RunningEmulator,
  type: 'commandline' | 'jupyter',
  podName: string,
  first: string,
  second: string,
): Promise<string> {
  const idle = await connectStdio([
    type,
    '--kubeconfig',
    emulator.kubeconfigPath,
    '--pod-name',
    podName,
    '--idle-timeout',
    '3',
  ]);
  assert.match(textOf(await runCode(idle, 'python', first)), /^1\n/);
  await waitUntilPodSucceeded(emulator, podName);
  const again = await runCode(idle, 'python', second);
  assert.equal(again.isError, undefined, textOf(again));
  const notice =
    '[the pod stopped after 3 idle seconds; this ran in a fresh one, without the earlier state]\n';
  assert.ok(textOf(again).startsWith(notice), textOf(again));
  await idle.client.close();
  await idle.exited;
  await waitUntilPodGone(emulator, podName);
  return textOf(again).slice(notice.length);
}

/** Runs a process to its end; its exit code and output. */
export const runProcess = runToEnd;
