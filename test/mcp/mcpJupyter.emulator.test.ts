import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  eventually,
  requireTool,
  sandboxProcesses,
  withEmulator,
} from '../support/emulatorFixture.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';
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

const available = jupyterServerAvailable();
const gatewayTool = "Debian's python3-ipykernel (the gateway pod's kernel)";
type Emulator = Awaited<ReturnType<typeof withEmulator>>;

describe('pod-runner-mcp jupyter over stdio: a stateful kernel per session', () => {
  let emulator: Emulator;
  let session: StdioSession;
  const project = scratchDir('pod-runner-mcp-project-');

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
    writeFileSync(join(project, 'helpers.py'), 'def answer():\n    return 42\n');
    writeFileSync(join(project, 'data.txt'), 'from the project\n');
    if (!available) {
      return;
    }
    session = await connectStdio([
      'jupyter',
      '--kubeconfig',
      emulator.kubeconfigPath,
      '--pod-name',
      'mcp-gateway',
      '--sync',
      project,
    ]);
  });

  after(async () => {
    await stopAll();
    assert.deepEqual(await pods(emulator), [], 'no pod of the MCP server is left');
    await emulator.verifyNoLeaks();
  });

  test('lists python only, described as stateful with its 120 s default timeout', async (t) => {
    if (!requireTool(t, available, gatewayTool)) {
      return;
    }
    const { tools } = await session.client.listTools();
    assert.deepEqual(
      tools.map((tool) => tool.name),
      ['python'],
    );
    assert.match(tools[0]!.description ?? '', /stateful.*persist.*120 seconds/s);
  });

  test('variables persist across calls; the synced project is the working directory', async (t) => {
    if (!requireTool(t, available, gatewayTool)) {
      return;
    }
    const first = await runCode(session, 'python', 'x = 21');
    assert.equal(first.isError, undefined, textOf(first));
    assert.match(
      textOf(await runCode(session, 'python', 'print(x * 2)')),
      /^42\n\[exit code: 0\]$/,
    );
    const synced = await runCode(
      session,
      'python',
      'import helpers\nprint(helpers.answer(), open("data.txt").read().strip())',
    );
    assert.match(textOf(synced), /^42 from the project\n/);
  });

  test('a matplotlib plot arrives as PNG image content', async (t) => {
    if (!requireTool(t, available, gatewayTool)) {
      return;
    }
    const result = await runCode(
      session,
      'python',
      'import matplotlib.pyplot as plt\n%matplotlib inline\nplt.plot([1, 3, 2])\nplt.show()',
    );
    assert.equal(result.isError, undefined, textOf(result));
    const images = result.content.filter((item) => item.type === 'image');
    assert.equal(images.length, 1);
    const image = images[0]!;
    assert.equal(image.mimeType, 'image/png');
    const png = Buffer.from(image.data, 'base64');
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.ok(png.length > 1000, `a real plot, ${png.length} bytes`);
  });

  test('a Python error is a tool error with its traceback; the kernel keeps its state', async (t) => {
    if (!requireTool(t, available, gatewayTool)) {
      return;
    }
    const failed = await runCode(session, 'python', '1 / 0');
    assert.equal(failed.isError, true);
    assert.match(textOf(failed), /ZeroDivisionError/);
    assert.match(textOf(await runCode(session, 'python', 'print(x)')), /^21\n/);
  });

  test('cancelling a call interrupts the kernel: its child process ends, its state stays', async (t) => {
    if (!requireTool(t, available, gatewayTool)) {
      return;
    }
    const controller = new AbortController();
    const call = runCode(
      session,
      'python',
      'import subprocess\nsubprocess.run(["sleep", "32.5"])',
      {
        signal: controller.signal,
      },
    );
    const running = () =>
      sandboxProcesses(emulator.stateDirectory).some((line) => line.endsWith('sleep 32.5'));
    await eventually(running, 30_000, 'the sleep to run in the kernel');
    controller.abort();
    await assert.rejects(call);
    await eventually(() => !running(), 20_000, 'the sleep to end');
    assert.match(textOf(await runCode(session, 'python', 'print(x + 1)')), /^22\n/);
  });

  test('closing the client deletes the gateway pod', async (t) => {
    if (!requireTool(t, available, gatewayTool)) {
      return;
    }
    assert.deepEqual(await pods(emulator), ['mcp-gateway']);
    await session.client.close();
    await session.exited;
    await waitUntilPodGone(emulator, 'mcp-gateway');
  });

  test('--idle-timeout: a gateway that stopped by itself is replaced by the next call, which says so', async (t) => {
    if (!requireTool(t, available, gatewayTool)) {
      return;
    }
    const rest = await afterIdleStop(
      emulator,
      'jupyter',
      'mcp-gateway-idle',
      'y = 1\nprint(y)',
      'print("y" in globals())',
    );
    assert.match(rest, /^False\n/);
  });
});
