import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { KernelConnectionError, PodJupyterCodeExecutor } from '../../src/core/index.ts';
import { JupyterAuthError } from '../../src/core/jupyterKernelClient.ts';
import type { KernelOutputEvent } from '../../src/core/jupyterMessages.ts';
import { requireTool } from '../support/emulatorFixture.ts';
import {
  jupyterServerAvailable,
  startJupyterServer,
  type RunningJupyterServer,
} from '../support/jupyterServer.ts';

const available = jupyterServerAvailable();

describe('PodJupyterCodeExecutor against a real Jupyter Server', () => {
  let server: RunningJupyterServer | undefined;
  let executor: PodJupyterCodeExecutor;
  const sockets: WebSocket[] = [];
  const py = (code: string, options?: Parameters<PodJupyterCodeExecutor['executeCodeBlocks']>[1]) =>
    executor.executeCodeBlocks([{ language: 'python', code }], options);

  before(async () => {
    if (!available) {
      return;
    }
    server = await startJupyterServer();
    executor = new PodJupyterCodeExecutor(server.info, {
      timeout: 5,
      webSocketFactory: (url, options) => {
        const socket = new WebSocket(url, options);
        sockets.push(socket);
        return socket;
      },
    });
    await executor.start();
  });

  after(async () => {
    const outputDir = executor?.outputDirectory;
    await executor?.stop();
    if (outputDir) {
      assert.equal(
        existsSync(outputDir),
        false,
        'the default output directory is removed by stop()',
      );
    }
    await server?.stop();
  });

  test('state persists across calls; stdout, stderr and execute_result are in the output and the events', async (t) => {
    if (!requireTool(t, available, "Debian's python3-jupyter-server and python3-ipykernel")) {
      return;
    }
    assert.equal((await py('x = 20')).exitCode, 0);
    const events: KernelOutputEvent[] = [];
    const result = await py('import sys\nprint("out")\nprint("err", file=sys.stderr)\nx + 22', {
      onOutput: (e) => events.push(e),
    });
    assert.deepEqual(result, { exitCode: 0, output: 'out\nerr\n42\n', outputFiles: [] });
    assert.ok(events.some((e) => e.type === 'stream' && e.name === 'stderr' && e.text === 'err\n'));
    assert.ok(
      events.some(
        (e) =>
          e.type === 'execute_result' &&
          e.data['text/plain'] === '42' &&
          typeof e.executionCount === 'number',
      ),
    );
  });

  test('a matplotlib figure shows inline by default and is saved as a valid PNG in the output directory', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const result = await py('import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])');
    assert.equal(result.exitCode, 0, result.output);
    assert.equal(result.outputFiles.length, 1);
    const png = readFileSync(result.outputFiles[0]!);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(result.output.includes(result.outputFiles[0]!));
  });

  test('an error gives ename/evalue once prefixed, without ANSI codes; raw traceback goes to the events', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const events: KernelOutputEvent[] = [];
    const result = await executor.executeCodeBlocks(
      [
        { language: 'python', code: 'print("before")' },
        { language: 'python', code: '1 / 0' },
        { language: 'python', code: 'print("never")' },
      ],
      { onOutput: (e) => events.push(e) },
    );
    assert.equal(result.exitCode, 1);
    assert.match(result.output, /^before\n\nERROR: ZeroDivisionError: division by zero\n/);
    assert.ok(!result.output.includes('\u001b['), 'no ANSI escape codes');
    assert.doesNotMatch(result.output, /ERROR: ERROR/);
    assert.doesNotMatch(result.output, /never/);
    const error = events.find((e) => e.type === 'error');
    assert.ok(
      error && error.type === 'error' && error.traceback.some((line) => line.includes('\u001b[')),
    );
  });

  test('a timeout interrupts the kernel (exit 124) and the kernel stays usable; a signal does the same', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    await py('kept = "still here"');
    const started = Date.now();
    const result = await py('import time\nprint("sleeping", flush=True)\ntime.sleep(60)');
    assert.equal(result.exitCode, 124);
    assert.equal(result.output, 'sleeping\n\n Timeout');
    assert.ok(Date.now() - started < 15_000);
    assert.equal((await py('print(kept)')).output, 'still here\n');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const cancelled = await py('import time\ntime.sleep(60)', { signal: controller.signal });
    assert.deepEqual(cancelled, {
      exitCode: 1,
      output: 'Code execution was cancelled.',
      outputFiles: [],
    });
    assert.equal((await py('print(kept)')).output, 'still here\n');
  });

  test('input(): answered by the handler when given, fails fast without one', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const noHandler = await py('input("name? ")');
    assert.equal(noHandler.exitCode, 1);
    assert.match(noHandler.output, /StdinNotImplementedError/);
    const asking = new PodJupyterCodeExecutor(server!.info, {
      onInput: (prompt) => Promise.resolve(`answer to ${prompt.trim()}`),
    });
    await asking.start();
    try {
      const answered = await asking.executeCodeBlocks([
        { language: 'python', code: 'print(input("name?"))' },
      ]);
      assert.equal(answered.output, 'answer to name?\n');
    } finally {
      await asking.stop();
    }
  });

  test('two executors on one server have separate kernels and state', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const other = new PodJupyterCodeExecutor(server!.info);
    await other.start();
    try {
      assert.notEqual(other.kernelId, executor.kernelId);
      await py('shared = 1');
      const result = await other.executeCodeBlocks([
        { language: 'python', code: 'print("shared" in globals())' },
      ]);
      assert.equal(result.output, 'False\n');
    } finally {
      await other.stop();
    }
  });

  test('a dropped WebSocket is reconnected without restarting the kernel, and no output is lost', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    await py('counter = 41');
    const running = py('import time\ntime.sleep(1)\ncounter += 1\nprint(counter)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    sockets.at(-1)!.terminate();
    const result = await running;
    assert.equal(result.output, '42\n');
    assert.equal((await py('print(counter)')).output, '42\n');
  });

  test('a dead kernel gives a clear result; restart() recovers with fresh state', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    await py('before_death = True');
    const died = await py('import os\nos._exit(1)');
    assert.equal(died.exitCode, 1);
    assert.match(died.output, /kernel died/);
    await executor.restart();
    const fresh = await py('print("before_death" in globals())');
    assert.equal(fresh.output, 'False\n');
  });

  test('restart() of a live kernel clears its state, and the next cell runs at once', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    for (let round = 0; round < 3; round++) {
      await py(`kept_${round} = True`);
      await executor.restart();
      const started = Date.now();
      const fresh = await py(`print("kept_${round}" in globals())`);
      assert.equal(fresh.output, 'False\n', `round ${round}`);
      assert.ok(Date.now() - started < 4_000, `round ${round}: ${Date.now() - started} ms`);
    }
  });

  test('a cell that ignores the interrupt is abandoned with a clear error, not held forever', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const sockets: WebSocket[] = [];
    const stubborn = new PodJupyterCodeExecutor(server!.info, {
      timeout: 1,
      webSocketFactory: (url, options) => {
        const socket = new WebSocket(url, options);
        sockets.push(socket);
        return socket;
      },
    });
    await stubborn.start();
    try {
      const started = Date.now();
      await assert.rejects(
        stubborn.executeCodeBlocks([
          {
            language: 'python',
            code: 'import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(120)',
          },
        ]),
        (error: Error) => {
          assert.ok(error instanceof KernelConnectionError, String(error));
          assert.match(error.message, /did not answer within 15 s of the interrupt/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 30_000, `gave up after ${Date.now() - started} ms`);
      // Its connection may be the half-open one: it is dropped, the next cell opens another.
      assert.equal(sockets.length, 1);
      assert.notEqual(sockets[0]!.readyState, WebSocket.OPEN);
    } finally {
      await stubborn.stop();
    }
  });

  test('a rotated token (the server restarted with a new one) is a clear authentication error', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const original = await startJupyterServer();
    const holder = new PodJupyterCodeExecutor(original.info, { timeout: 10 });
    await holder.start();
    let rotated: Awaited<ReturnType<typeof startJupyterServer>> | undefined;
    try {
      assert.equal(
        (await holder.executeCodeBlocks([{ language: 'python', code: '6*7' }])).output,
        '42\n',
      );
      await original.stop();
      rotated = await startJupyterServer({ port: original.info.port });
      assert.notEqual(rotated.info.token, original.info.token);
      const started = Date.now();
      await assert.rejects(
        holder.executeCodeBlocks([{ language: 'python', code: '1' }]),
        (error: Error) => {
          assert.ok(
            error instanceof JupyterAuthError,
            `${error.constructor.name}: ${error.message}`,
          );
          assert.match(error.message, /check the token/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 20_000, `failed after ${Date.now() - started} ms`);
    } finally {
      await holder.stop().catch(() => undefined);
      await rotated?.stop();
      await original.stop();
    }
  });

  test('a wrong token is a clear authentication error', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const wrong = new PodJupyterCodeExecutor({ ...server!.info, token: 'wrong' }, { timeout: 5 });
    await assert.rejects(
      wrong.start(),
      (error: JupyterAuthError) =>
        error instanceof JupyterAuthError &&
        /refused .* \(HTTP 403\): check the token/.test(error.message),
    );
  });
});
