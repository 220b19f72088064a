import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type PodStartProgress,
} from '../../src/core/index.ts';
import {
  apiRequest,
  eventually,
  managedNames,
  requireTool,
  withEmulator,
} from '../support/emulatorFixture.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';

const available = jupyterServerAvailable();
type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** Six seconds: long enough for a kernel to start between two looks, short for a test. */
const idleTimeoutMinutes = 6 / 60;
const podName = 'idle-gateway';

describe('an idle gateway culls idle kernels, then stops by itself', () => {
  let emulator: Emulator;
  const servers: PodJupyterServer[] = [];
  const executors: PodJupyterCodeExecutor[] = [];
  const gateway = () => {
    const server = new PodJupyterServer({
      kubeconfig: emulator.kubeconfigPath,
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
    (await apiRequest(emulator, 'GET', `/api/v1/namespaces/default/pods/${podName}`)).body as {
      metadata: { uid: string };
      status: { phase: string };
    };
  const kernelIds = async (server: PodJupyterServer) => {
    const { host, port, token } = await server.connect();
    const response = await fetch(`http://${host}:${port}/api/kernels`, {
      headers: { Authorization: `token ${token ?? ''}` },
    });
    return ((await response.json()) as { id: string }[]).map((each) => each.id);
  };

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
  });

  after(async () => {
    for (const executor of executors) {
      await executor.stop().catch(() => undefined);
    }
    for (const server of servers) {
      await server.stop();
    }
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(await managedNames(emulator, resource), [], `no ${resource} of ours remain`);
    }
    await emulator.verifyNoLeaks();
  });

  test('a busy kernel keeps the gateway up while an idle one is culled; then the pod ends Succeeded', async (t) => {
    if (!requireTool(t, available, "Debian's python3-jupyter-server")) {
      return;
    }
    const server = gateway();
    await server.start();
    const busy = await kernel(server);
    const idle = await kernel(server);
    let finished = false;
    const long = busy
      .executeCodeBlocks([
        { language: 'python', code: 'import time\ntime.sleep(20)\nprint("done")' },
      ])
      .finally(() => (finished = true));
    await eventually(
      async () => !(await kernelIds(server)).includes(idle.kernelId!),
      30_000,
      'the idle kernel culled',
    );
    assert.equal(finished, false, 'culled while the long cell still ran');
    assert.deepEqual(await kernelIds(server), [busy.kernelId]);
    const result = await long;
    assert.deepEqual([result.exitCode, result.output], [0, 'done\n']);
    assert.equal((await pod()).status.phase, 'Running', 'a running cell is activity');
    await eventually(async () => (await pod()).status.phase === 'Succeeded', 40_000, 'Succeeded');
    const log = await apiRequest(emulator, 'GET', `/api/v1/namespaces/default/pods/${podName}/log`);
    assert.match(log.text, /no kernel ran anything for 6 seconds; stopping the gateway/);
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
      message: 'the pod stopped after 6 idle seconds',
    });
    assert.notEqual((await pod()).metadata.uid, stopped.metadata.uid);
    const fresh = await kernel(server);
    const result = await fresh.executeCodeBlocks([{ language: 'python', code: 'print(6 * 7)' }]);
    assert.equal(result.output, '42\n');
    assert.equal(await server.removeIfEnded(), undefined, 'a running gateway stays');
    await eventually(async () => (await pod()).status.phase === 'Succeeded', 40_000, 'Succeeded');
    assert.equal(await server.removeIfEnded(), 'the pod stopped after 6 idle seconds');
    assert.equal(server.isRunning, false);
    for (const resource of ['pods', 'secrets']) {
      assert.deepEqual(
        await managedNames(emulator, resource),
        [],
        `the stopped gateway's ${resource}`,
      );
    }
  });
});
