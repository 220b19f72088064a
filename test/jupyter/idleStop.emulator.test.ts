import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type PodStartProgress,
} from '../../src/core/index.ts';
import { apiRequest, eventually, managedNames, requireTool } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
import { gatewayAuthLines } from '../support/gatewayCell.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';

const available = jupyterServerAvailable();
/** Ten seconds: longer than a kernel's start on a busy machine, short for a test. */
const idleTimeoutMinutes = 10 / 60;
const podName = 'idle-gateway';

describe('an idle gateway culls idle kernels, then stops by itself', () => {
  let backend: TestBackend;
  const servers: PodJupyterServer[] = [];
  const executors: PodJupyterCodeExecutor[] = [];
  const gateway = () => {
    const server = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      podName,
      autoRemove: false,
      startupTimeout: 60,
      idleTimeoutMinutes,
    });
    servers.push(server);
    return server;
  };
  const kernel = async (server: PodJupyterServer) => {
    const executor = new PodJupyterCodeExecutor(server, { timeout: 60 });
    executors.push(executor);
    await executor.start();
    return executor;
  };
  const pod = async () =>
    (await apiRequest(backend, 'GET', `/api/v1/namespaces/default/pods/${podName}`)).body as {
      metadata: { uid: string };
      status: { phase: string };
    };
  const kernelStates = async (server: PodJupyterServer) => {
    const { host, port, token } = await server.connect();
    const response = await fetch(`http://${host}:${port}/api/kernels`, {
      headers: { Authorization: `token ${token ?? ''}` },
    });
    const kernels = (await response.json()) as { id: string; execution_state: string }[];
    return Object.fromEntries(kernels.map((each) => [each.id, each.execution_state]));
  };

  /** Waits for the idle stop; a pod that never gets there fails with its log and kernels. */
  const untilSucceeded = async (server: PodJupyterServer) => {
    try {
      await eventually(async () => (await pod()).status.phase === 'Succeeded', 40_000, 'Succeeded');
    } catch (error) {
      const log = await apiRequest(
        backend,
        'GET',
        `/api/v1/namespaces/default/pods/${podName}/log`,
      );
      const kernels = await kernelStates(server).catch((failure: unknown) => String(failure));
      throw new Error(
        `${(error as Error).message}; kernels: ${JSON.stringify(kernels)}; the pod's log:\n${log.text.slice(-4000)}`,
      );
    }
  };

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
  });

  after(async () => {
    for (const executor of executors) {
      await executor.stop().catch(() => undefined);
    }
    for (const server of servers) {
      await server.stop();
    }
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(await managedNames(backend, resource), [], `no ${resource} of ours remain`);
    }
    await backend.verifyNoLeaks();
  });

  test('a busy kernel keeps the gateway up while an idle unconnected one is culled; then the pod ends Succeeded', async (t) => {
    if (!requireTool(t, available, "Debian's python3-jupyter-server")) {
      return;
    }
    const server = gateway();
    await server.start();
    const busy = await kernel(server);
    // The cell runs until a second kernel started and the gateway culled it: however long it takes.
    const alone = [
      'import json, os, time, urllib.request',
      'print("waiting", flush=True)',
      'url = "http://127.0.0.1:%s/api/kernels" % os.environ["KG_PORT"]',
      ...gatewayAuthLines,
      'count = lambda: len(json.load(urllib.request.urlopen(urllib.request.Request(url, headers=gateway_auth))))',
      'while count() < 2:',
      '    time.sleep(0.2)',
      'while count() > 1:',
      '    time.sleep(0.2)',
      'print("alone")',
    ].join('\n');
    let cellRuns: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (cellRuns = resolve));
    const long = busy.executeCodeBlocks([{ language: 'python', code: alone }], {
      onOutput: () => cellRuns(),
    });
    await running;
    // A kernel no client is connected to (as when the laptop closed): culled once idle.
    const { host, port, token } = await server.connect();
    const started = await fetch(`http://${host}:${port}/api/kernels`, {
      method: 'POST',
      headers: { Authorization: `token ${token ?? ''}` },
      body: JSON.stringify({ name: 'python3' }),
    });
    const idle = (await started.json()) as { id: string };
    assert.deepEqual(
      Object.keys(await kernelStates(server)).sort(),
      [busy.kernelId, idle.id].sort(),
    );
    const result = await long;
    assert.deepEqual([result.exitCode, result.output], [0, 'waiting\nalone\n']);
    assert.deepEqual(
      Object.keys(await kernelStates(server)),
      [busy.kernelId],
      'the idle one culled',
    );
    assert.equal((await pod()).status.phase, 'Running', 'a running cell is activity');
    await untilSucceeded(server);
    const log = await apiRequest(backend, 'GET', `/api/v1/namespaces/default/pods/${podName}/log`);
    assert.match(log.text, /no kernel ran anything for 10 seconds; stopping the gateway/);
  });

  test('the next start of the kept gateway replaces the stopped pod and says why; a client deletes a stopped gateway', async (t) => {
    if (!requireTool(t, available, "Debian's python3-jupyter-server")) {
      return;
    }
    const stopped = await pod();
    assert.equal(stopped.status.phase, 'Succeeded');
    const progress: PodStartProgress[] = [];
    const server = gateway();
    await server.start({ onProgress: (step) => progress.push(step) });
    assert.deepEqual(progress[0], {
      phase: 'Replacing',
      message: 'the pod stopped after 10 idle seconds',
    });
    assert.notEqual((await pod()).metadata.uid, stopped.metadata.uid);
    const fresh = await kernel(server);
    const result = await fresh.executeCodeBlocks([{ language: 'python', code: 'print(6 * 7)' }]);
    assert.equal(result.output, '42\n');
    assert.equal(await server.removeIfEnded(), undefined, 'a running gateway stays');
    // Its kernel gone, the gateway is idle whatever state the server last saw the kernel in.
    await fresh.stop();
    await untilSucceeded(server);
    assert.equal(await server.removeIfEnded(), 'the pod stopped after 10 idle seconds');
    assert.equal(server.isRunning, false);
    for (const resource of ['pods', 'secrets']) {
      assert.deepEqual(
        await managedNames(backend, resource),
        [],
        `the stopped gateway's ${resource}`,
      );
    }
  });
});
