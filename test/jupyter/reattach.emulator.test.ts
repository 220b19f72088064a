import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ExecutorStateError,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type PodJupyterServerOptions,
} from '../../src/core/index.ts';
import { apiRequest, managedNames, requireTool, withEmulator } from '../support/emulatorFixture.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';

const available = jupyterServerAvailable();
const tool = "Debian's python3-jupyter-server (the gateway's stand-in in the pod)";
type Emulator = Awaited<ReturnType<typeof withEmulator>>;

async function podUid(emulator: Emulator): Promise<string> {
  const pod = await apiRequest(
    emulator,
    'GET',
    '/api/v1/namespaces/default/pods/reattached-gateway',
  );
  return String((pod.body as { metadata: { uid: string } }).metadata.uid);
}

async function run(executor: PodJupyterCodeExecutor, code: string) {
  return executor.executeCodeBlocks([{ language: 'python', code }]);
}

describe('reattach: a kept gateway adopted by pod name, a running kernel attached by id (emulator)', () => {
  let emulator: Emulator;
  const servers: PodJupyterServer[] = [];
  const gateway = async (options: PodJupyterServerOptions = {}) => {
    const server = new PodJupyterServer({
      kubeconfig: emulator.kubeconfigPath,
      startupTimeout: 60,
      podName: 'reattached-gateway',
      autoRemove: false,
      ...options,
    });
    servers.push(server);
    await server.start();
    return server;
  };

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
  });

  after(async () => {
    for (const server of servers) {
      await server.stop();
    }
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(
        await managedNames(emulator, resource, 'default'),
        [],
        `no ${resource} remain`,
      );
    }
    await emulator.verifyNoLeaks();
  });

  test('a new server adopts the kept gateway; each kernel is attached again by its id with its variables, and two kernels never mix', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const first = await gateway();
    const firstNotebook = new PodJupyterCodeExecutor(first, { timeout: 20 });
    const secondNotebook = new PodJupyterCodeExecutor(first, { timeout: 20 });
    await firstNotebook.start();
    await secondNotebook.start();
    assert.equal((await run(firstNotebook, 'x = 41')).exitCode, 0);
    assert.equal((await run(secondNotebook, 'x = "second"')).exitCode, 0);
    const kernelIds = [firstNotebook.kernelId, secondNotebook.kernelId];
    assert.ok(kernelIds[0] && kernelIds[1] && kernelIds[0] !== kernelIds[1], String(kernelIds));
    // The window goes away: connections closed, kernels and pod left running.
    await firstNotebook.detach();
    await secondNotebook.detach();
    assert.equal(firstNotebook.kernelId, undefined, 'a detached executor has no kernel');
    const keptUid = await podUid(emulator);
    await first[Symbol.asyncDispose]();

    const again = await gateway();
    assert.equal(await podUid(emulator), keptUid, 'the kept pod itself is used, not a new one');
    const reattached = [kernelIds[1], kernelIds[0]].map(
      (kernelId) => new PodJupyterCodeExecutor(again, { timeout: 20, kernelId }),
    );
    try {
      for (const executor of reattached) {
        await executor.start();
      }
      assert.deepEqual(
        reattached.map((executor) => executor.kernelId),
        [kernelIds[1], kernelIds[0]],
      );
      assert.deepEqual(await run(reattached[0]!, 'print(x)'), {
        exitCode: 0,
        output: 'second\n',
        outputFiles: [],
      });
      assert.deepEqual(await run(reattached[1]!, 'print(x + 1)'), {
        exitCode: 0,
        output: '42\n',
        outputFiles: [],
      });
    } finally {
      for (const executor of reattached) {
        await executor.stop();
      }
    }
  });

  test('attaching to a kernel the server does not have fails, starting nothing; a fresh kernel has none of the old variables', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const server = await gateway();
    const owner = new PodJupyterCodeExecutor(server, { timeout: 20 });
    await owner.start();
    const goneId = owner.kernelId!;
    assert.equal((await run(owner, 'y = 1')).exitCode, 0);
    await owner.stop();

    const orphan = new PodJupyterCodeExecutor(server, { timeout: 20, kernelId: goneId });
    await assert.rejects(orphan.start(), (error: Error) => {
      assert.ok(error instanceof ExecutorStateError, String(error));
      assert.equal(error.message, `kernel ${goneId} is not running on the server`);
      return true;
    });
    assert.equal(orphan.kernelId, undefined);

    const fresh = new PodJupyterCodeExecutor(server, { timeout: 20 });
    await fresh.start();
    try {
      assert.notEqual(fresh.kernelId, goneId);
      const result = await run(fresh, 'print(y)');
      assert.equal(result.exitCode, 1);
      assert.match(result.output, /NameError: name 'y' is not defined/);
    } finally {
      await fresh.stop();
    }
  });
});
