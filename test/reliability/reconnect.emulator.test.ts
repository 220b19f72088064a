import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { KernelChannel } from '../../src/core/jupyterKernelClient.ts';
import {
  KernelConnectionError,
  PodGoneError,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type JupyterCodeResult,
  type Logger,
  type PortForwardState,
} from '../../src/core/index.ts';
import {
  apiRequest,
  eventually,
  managedPodNames,
  requireTool,
  withEmulator,
} from '../support/emulatorFixture.ts';
import { gatewayAuthLines } from '../support/gatewayCell.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';
import { scratchDir } from '../support/scratch.ts';

const available = jupyterServerAvailable();
const requirement = "Debian's python3-ipykernel (the gateway pod's kernel)";
type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** The old limit of the kernel socket's reconnection: an outage must outlast it. */
const attemptsBeyondTheOldLimit = 6;

/**
 * A cell that prints, then waits (in the kernel) until the Jupyter server has no socket for the
 * kernel (so it buffers) and the test opens the gate, prints again, and marks itself done: its
 * second half runs entirely during the outage.
 */
function cellAcrossTheOutage(kernelId: string): string {
  return [
    'import json, os, time, urllib.request',
    'runs += 1',
    'print("started", flush=True)',
    ...gatewayAuthLines,
    'def connections():',
    `    url = f"http://127.0.0.1:{os.environ['KG_PORT']}/api/kernels/${kernelId}"`,
    '    return json.load(urllib.request.urlopen(urllib.request.Request(url, headers=gateway_auth)))["connections"]',
    'while connections() > 0 or not os.path.exists("/workspace/gate"):',
    '    time.sleep(0.05)',
    'print("finished while the API server was down", flush=True)',
    'open("/workspace/done", "w").close()',
  ].join('\n');
}

describe('reconnect: the API server unreachable for a while, then back', () => {
  let emulator: Emulator;
  let server: PodJupyterServer | undefined;
  let executor: PodJupyterCodeExecutor | undefined;
  let outage: { restore(): Promise<void> } | undefined;
  let states: PortForwardState[] = [];
  let refusals = 0;

  const logger: Logger = {
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => {
      if (/port-forward to pod .* failed: .*ECONNREFUSED/.test(message)) {
        refusals++;
      }
    },
    error: () => undefined,
  };

  /** A gateway whose /workspace is `gate` on the host, and a kernel on it. */
  async function startKernel(
    gate: string,
    podSpec?: Record<string, unknown>,
  ): Promise<PodJupyterCodeExecutor> {
    states = [];
    refusals = 0;
    server = new PodJupyterServer({
      kubeconfig: emulator.kubeconfigPath,
      startupTimeout: 60,
      volume: { name: 'gate', hostPath: { path: gate } },
      logger,
      onConnectionState: (state) => states.push(state),
      ...(podSpec ? { podSpec } : {}),
    });
    await server.start();
    executor = new PodJupyterCodeExecutor(server, { timeout: 300 });
    await executor.start();
    return executor;
  }

  /**
   * Starts a cell that prints and then sleeps, takes the API server down at its printed line, and
   * resolves once it is down (after a refused reconnection) with the cell's outcome to come
   * (wrapped: an async function would wait for a promise it returns).
   */
  async function runIntoAnOutage(
    kernel: PodJupyterCodeExecutor,
  ): Promise<{ outcome: Promise<JupyterCodeResult | Error> }> {
    let outageBegun: Promise<void> | undefined;
    const code = 'print("started", flush=True)\nimport time\ntime.sleep(600)';
    const running = kernel
      .executeCodeBlocks([{ language: 'python', code }], {
        // At its printed line: the kernel's echo of the code (execute_input) may come first.
        onOutput: (event) => {
          if (event.type !== 'stream') {
            return;
          }
          outageBegun ??= emulator.faults.takeApiServerDown().then((down) => {
            outage = down;
          });
        },
      })
      .catch((error: unknown) => error as Error);
    await eventually(() => outageBegun !== undefined, 60_000, 'the cell to print');
    await outageBegun;
    await eventually(() => refusals >= 1, 60_000, 'a refused reconnection attempt');
    return { outcome: running };
  }

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
  });

  afterEach(async () => {
    await outage?.restore();
    outage = undefined;
    await executor?.stop();
    await server?.stop();
    executor = undefined;
    server = undefined;
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours remains');
  });

  after(async () => {
    await emulator.verifyNoLeaks();
  });

  test(
    'a cell running across the outage completes with all its output, run once; the kernel keeps its state',
    { timeout: 180_000 },
    async (t) => {
      if (!requireTool(t, available, requirement)) {
        return;
      }
      const gate = scratchDir('pod-runner-reconnect-');
      const kernel = await startKernel(gate);
      await kernel.executeCodeBlocks([{ language: 'python', code: 'runs = 0' }]);
      let outageBegun: Promise<void> | undefined;
      const running = kernel.executeCodeBlocks(
        [{ language: 'python', code: cellAcrossTheOutage(kernel.kernelId!) }],
        {
          onOutput: (event) => {
            if (event.type === 'stream' && !outageBegun) {
              outageBegun = emulator.faults.takeApiServerDown().then((down) => {
                outage = down;
              });
            }
          },
        },
      );
      await eventually(() => outageBegun !== undefined, 60_000, 'the cell to print its first line');
      await outageBegun;
      await eventually(
        () => refusals >= attemptsBeyondTheOldLimit,
        60_000,
        `${attemptsBeyondTheOldLimit} refused reconnection attempts`,
      );
      assert.equal(states.at(-1), 'reconnecting');
      writeFileSync(join(gate, 'gate'), '');
      await eventually(() => existsSync(join(gate, 'done')), 60_000, 'the cell to finish');
      await outage!.restore();
      outage = undefined;

      const result = await running;
      assert.equal(result.exitCode, 0, result.output);
      assert.equal(result.output, 'started\nfinished while the API server was down\n');
      assert.equal(states.at(-1), 'connected');
      const after = await kernel.executeCodeBlocks([{ language: 'python', code: 'print(runs)' }]);
      assert.equal(after.output, '1\n', 'the cell ran exactly once');
    },
  );

  test(
    'the pod stopped during the outage: the running cell fails as gone, with its events, not retried forever',
    { timeout: 180_000 },
    async (t) => {
      if (!requireTool(t, available, requirement)) {
        return;
      }
      // Not restarted in place: a killed gateway leaves its pod Failed.
      const kernel = await startKernel(scratchDir('pod-runner-reconnect-'), {
        spec: { restartPolicy: 'Never' },
      });
      const { outcome } = await runIntoAnOutage(kernel);
      emulator.faults.killPod('default', server!.podName, 'OOMKilled');
      await outage!.restore();
      outage = undefined;

      const error = await outcome;
      assert.ok(error instanceof PodGoneError, JSON.stringify(error));
      assert.equal(error.pod, server!.podName);
      assert.match(error.message, /stopped \(phase Failed/);
      assert.ok(error.events.length > 0, 'the last events are given');
      assert.match(error.message, /Last events:\n {2}\S/);
      assert.equal(states.at(-1), 'gone');
    },
  );

  test(
    'the gateway restarted in place during the outage: the cell ends saying its kernel is gone; restart() gives a working one',
    { timeout: 180_000 },
    async (t) => {
      if (!requireTool(t, available, requirement)) {
        return;
      }
      const kernel = await startKernel(scratchDir('pod-runner-reconnect-'));
      const { outcome } = await runIntoAnOutage(kernel);
      emulator.faults.killPod('default', server!.podName, 'OOMKilled');
      await outage!.restore();
      outage = undefined;

      const result = await outcome;
      assert.ok(!(result instanceof Error), result instanceof Error ? result.message : '');
      assert.equal(result.exitCode, 1);
      assert.match(result.output, /^started\nERROR: kernel \S+ no longer exists on the server$/);
      await kernel.restart();
      const fresh = await kernel.executeCodeBlocks([{ language: 'python', code: 'print(6 * 7)' }]);
      assert.equal(fresh.output, '42\n');
    },
  );

  test(
    'the pod deleted between cells: the next cell fails at once as gone, with its events',
    { timeout: 180_000 },
    async (t) => {
      if (!requireTool(t, available, requirement)) {
        return;
      }
      const kernel = await startKernel(scratchDir('pod-runner-reconnect-'));
      await kernel.executeCodeBlocks([{ language: 'python', code: 'x = 1' }]);
      const podName = server!.podName;
      await apiRequest(emulator, 'DELETE', `/api/v1/namespaces/default/pods/${podName}`);
      await eventually(
        async () => !(await managedPodNames(emulator)).includes(podName),
        60_000,
        'the pod to be deleted',
      );
      const started = Date.now();
      await assert.rejects(
        kernel.executeCodeBlocks([{ language: 'python', code: 'print(x)' }]),
        (error: unknown) =>
          error instanceof PodGoneError &&
          /was deleted: it cannot be reconnected to/.test(error.message) &&
          error.events.length > 0,
      );
      assert.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms`);
      assert.equal(states.at(-1), 'gone');
    },
  );
});

describe('reconnect: the kernel socket retries with a bound', () => {
  /** A port on 127.0.0.1 where nothing listens: every connection is refused. */
  async function refusingPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  function countingFactory(): { attempts: () => number; factory: typeof createWebSocket } {
    let attempts = 0;
    return {
      attempts: () => attempts,
      factory: (url, options) => {
        attempts++;
        return createWebSocket(url, options);
      },
    };
  }
  const createWebSocket = (url: string, options: WebSocket.ClientOptions) =>
    new WebSocket(url, options);

  test('a server that stays unreachable: tries again with backoff, then gives up at the end of its window', async () => {
    const counting = countingFactory();
    const channel = new KernelChannel({ host: '127.0.0.1', port: await refusingPort() }, 'k', {
      reconnectWindowMs: 2_000,
      webSocketFactory: counting.factory,
    });
    const started = Date.now();
    await assert.rejects(
      channel.execute('1'),
      (error: unknown) =>
        error instanceof KernelConnectionError && /ECONNREFUSED/.test(error.message),
    );
    const elapsed = Date.now() - started;
    channel.close();
    assert.ok(elapsed >= 2_000 && elapsed < 8_000, `gave up after ${elapsed} ms`);
    // 400, 800 ms... apart within 2 s: more than one try, far fewer than a tight loop's.
    assert.ok(counting.attempts() >= 3 && counting.attempts() <= 5, `${counting.attempts()} tries`);
  });

  test('a server known to be gone for good: the first failure ends the retries with that reason', async () => {
    const counting = countingFactory();
    const gone = new PodGoneError('pod default/p was deleted: it cannot be reconnected to', 'p');
    const channel = new KernelChannel(
      { host: '127.0.0.1', port: await refusingPort(), permanentFailure: () => gone },
      'k',
      { webSocketFactory: counting.factory },
    );
    await assert.rejects(channel.execute('1'), (error: unknown) => error === gone);
    channel.close();
    assert.equal(counting.attempts(), 1);
  });
});
