import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { eventually, sandboxProcesses, withEmulator } from '../support/emulatorFixture.ts';
import { scratchDir } from '../support/scratch.ts';
import {
  connectStdio,
  pods,
  runCode,
  stopAll,
  textOf,
  waitUntilPodGone,
  type StdioSession,
  afterIdleStop,
} from './mcpHarness.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

describe('pod-runner-mcp commandline over stdio (the SDK client, the emulator)', () => {
  let emulator: Emulator;
  let session: StdioSession;
  const scratch = scratchDir('pod-runner-mcp-');
  const project = scratchDir('pod-runner-mcp-project-');

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
    writeFileSync(join(project, 'helpers.py'), 'def answer():\n    return 42\n');
    writeFileSync(join(project, 'data.txt'), 'from the project\n');
    session = await connectStdio([
      'commandline',
      '--kubeconfig',
      emulator.kubeconfigPath,
      '--pod-name',
      'mcp-stdio',
    ]);
  });

  after(async () => {
    await stopAll();
    assert.deepEqual(await pods(emulator), [], 'no pod of the MCP server is left');
    await emulator.verifyNoLeaks();
  });

  test('lists python and bash, annotated, and starts no pod before the first call', async () => {
    const { tools } = await session.client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name).sort(), ['bash', 'python']);
    for (const tool of tools) {
      assert.deepEqual(tool.inputSchema.required, ['code']);
      assert.equal(tool.annotations?.readOnlyHint, false);
      assert.equal(tool.annotations?.destructiveHint, true);
      assert.equal(tool.annotations?.openWorldHint, true);
      assert.match(tool.description ?? '', /Stateless.*60 seconds/s);
      assert.equal(
        tool.title,
        `Run ${tool.name === 'python' ? 'Python' : 'bash'} in a Kubernetes pod`,
      );
      assert.equal(tool.annotations?.title, tool.title);
    }
    assert.deepEqual(await pods(emulator), []);
  });

  test('runs python and bash in the pod: output, exit code and stderr', async () => {
    const ok = await runCode(session, 'python', 'import sys\nprint(6 * 7, sys.version_info[0])');
    assert.equal(ok.isError, undefined);
    assert.match(textOf(ok), /^42 3\n\[exit code: 0\]$/);
    assert.deepEqual(await pods(emulator), ['mcp-stdio']);

    const failed = await runCode(session, 'bash', 'echo out; echo oops >&2; exit 3');
    assert.equal(failed.isError, true);
    assert.match(textOf(failed), /out\n/);
    assert.match(textOf(failed), /oops\n/);
    assert.match(textOf(failed), /\[exit code: 3\]$/);

    const long = textOf(await runCode(session, 'python', 'print("x" * 300_000)'));
    assert.match(long, /\[\.\.\. \d+ bytes of output left out \.\.\.\]/);
    assert.ok(long.length < 110_000, `${long.length} characters`);
  });

  test('a call without code is refused by its schema; 20 MB of code is a tool error; the server goes on', async () => {
    // The SDK answers a call that fails its input schema with a tool error naming the field.
    const missing = (await session.client.callTool({
      name: 'python',
      arguments: {},
    })) as CallToolResult;
    assert.equal(missing.isError, true);
    assert.match(textOf(missing), /Input validation error.*code/s);

    const huge = await runCode(session, 'python', `# ${'x'.repeat(20 * 1024 * 1024)}`);
    assert.equal(huge.isError, true);
    assert.match(textOf(huge), /at most 524288 bytes \(512 KB\)/);

    assert.match(textOf(await runCode(session, 'bash', 'echo still here')), /still here/);
  });

  test('cancelling a call kills its process in the pod; the session goes on', async () => {
    const controller = new AbortController();
    const call = runCode(session, 'bash', 'sleep 31.5', { signal: controller.signal });
    const running = () =>
      sandboxProcesses(emulator.stateDirectory).some((line) => line.endsWith('sleep 31.5'));
    await eventually(running, 30_000, 'the sleep to run in the pod');
    controller.abort();
    await assert.rejects(call);
    await eventually(() => !running(), 20_000, 'the sleep to be killed');
    assert.match(textOf(await runCode(session, 'python', 'print("after")')), /^after\n/);
  });

  test('concurrent calls of one session run one at a time', async () => {
    // The first call waits up to 3 s for a file the second creates: were they run together, it
    // would see the file; run in turn, it gives up first.
    const first = runCode(
      session,
      'bash',
      'rm -f go; for i in $(seq 30); do [ -e go ] && { echo overlapped; exit 0; }; sleep 0.1; done; echo alone',
    );
    const second = runCode(session, 'bash', 'touch go; echo second');
    assert.match(textOf(await first), /^alone\n/);
    assert.match(textOf(await second), /^second\n/);
  });

  test('closing the client ends the server and deletes its pod', async () => {
    await session.client.close();
    await session.exited;
    await waitUntilPodGone(emulator, 'mcp-stdio');
    assert.match(session.stderr(), /the client closed the session/);
  });

  test('--timeout 2: a long call is stopped and says so; the session still works (--sync: in the project); SIGTERM deletes the pod', async () => {
    const timed = await connectStdio([
      'commandline',
      '--kubeconfig',
      emulator.kubeconfigPath,
      '--pod-name',
      'mcp-timeout',
      '--timeout',
      '2',
      '--sync',
      project,
    ]);
    const started = Date.now();
    const result = await runCode(
      timed,
      'python',
      'import time\nprint("begin", flush=True)\ntime.sleep(30)',
    );
    assert.equal(result.isError, true);
    assert.match(textOf(result), /begin/);
    assert.match(textOf(result), /timed out: the run was stopped after its limit of 2 seconds/);
    assert.ok(Date.now() - started < 25_000, 'stopped near its limit, not after the sleep');
    // The synced project is the working directory, and importable.
    const synced = await runCode(
      timed,
      'python',
      'import helpers\nprint(helpers.answer(), open("data.txt").read().strip())',
    );
    assert.match(textOf(synced), /^42 from the project\n/);

    assert.deepEqual(await pods(emulator), ['mcp-timeout']);
    process.kill(timed.pid, 'SIGTERM');
    await timed.exited;
    // The server deletes its pod before it exits.
    assert.deepEqual(await pods(emulator), []);
    assert.match(timed.stderr(), /terminated: deleting the sessions' pods/);
  });

  test('--idle-timeout: a pod that stopped by itself is replaced by the next call, which says so', async () => {
    const rest = await afterIdleStop(emulator, 'commandline', 'mcp-idle', 'print(1)', 'print(2)');
    assert.match(rest, /^2\n/);
  });

  test('an unreachable cluster fails the call fast, naming the API server, without credentials', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const kubeconfig = join(scratch, 'unreachable.yaml');
    const secret = 'unreachable-token-0123456789';
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${closedPort}` } }],
        users: [{ name: 'u', user: { token: secret } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const unreachable = await connectStdio(['commandline', '--kubeconfig', kubeconfig]);
    const started = Date.now();
    const result = await runCode(unreachable, 'python', 'print(1)');
    assert.equal(result.isError, true);
    const text = textOf(result);
    assert.match(text, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
    assert.doesNotMatch(text, /unreachable-token|\n\s+at /);
    assert.ok(Date.now() - started < 30_000, `failed in ${Date.now() - started} ms`);
    assert.doesNotMatch(unreachable.stderr(), /unreachable-token/);
    await unreachable.client.close();
    await unreachable.exited;
  });
});
