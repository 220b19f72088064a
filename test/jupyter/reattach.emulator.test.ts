import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ExecutorStateError,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type JupyterExecuteOptions,
  type PodJupyterServerOptions,
} from '../../src/core/index.ts';
import { apiRequest, managedNames, requireTool } from '../support/emulatorFixture.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';

const available = jupyterServerAvailable();
const tool = "Debian's python3-ipykernel (the gateway pod's kernel)";
async function podUid(backend: TestBackend): Promise<string> {
  const pod = await apiRequest(
    backend,
    'GET',
    '/api/v1/namespaces/default/pods/reattached-gateway',
  );
  return String((pod.body as { metadata: { uid: string } }).metadata.uid);
}

async function run(
  executor: PodJupyterCodeExecutor,
  code: string,
  options: JupyterExecuteOptions = {},
) {
  return executor.executeCodeBlocks([{ language: 'python', code }], options);
}

describe(`reattach: a kept gateway adopted by pod name, a running kernel attached by id (${backendName})`, () => {
  let backend: TestBackend;
  const servers: PodJupyterServer[] = [];
  const gateway = async (options: PodJupyterServerOptions = {}) => {
    const server = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
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
    backend = await withBackend({ backoffBaseMs: 200 });
  });

  after(async () => {
    for (const server of servers) {
      await server.stop();
    }
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(
        await managedNames(backend, resource, 'default'),
        [],
        `no ${resource} remain`,
      );
    }
    await backend.verifyNoLeaks();
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
    const keptUid = await podUid(backend);
    await first[Symbol.asyncDispose]();

    const again = await gateway();
    assert.equal(await podUid(backend), keptUid, 'the kept pod itself is used, not a new one');
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

  test('a block left running is followed by the next executor on its kernel and session: the output kept meanwhile and its result, run once', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const server = await gateway();
    const scratch = `/tmp/resume-${process.pid}`;
    const block = [
      'import os, time',
      `os.makedirs('${scratch}', exist_ok=True)`,
      `open('${scratch}/runs', 'a').write('run\\n')`,
      "print('before', flush=True)",
      `while not os.path.exists('${scratch}/go'):`,
      '    time.sleep(0.05)',
      "print('after')",
      `open('${scratch}/done', 'w').close()`,
      '6 * 7',
    ].join('\n');
    const leaving = new PodJupyterCodeExecutor(server, { timeout: 60 });
    await leaving.start();
    let requestId: string | undefined;
    let printedBefore: () => void = () => undefined;
    const before = new Promise<void>((resolve) => (printedBefore = resolve));
    const left = run(leaving, block, {
      onSent: (id) => (requestId = id),
      onOutput: (event) =>
        event.type === 'stream' && event.text.includes('before') && printedBefore(),
    });
    await before;
    const { kernelId, sessionId } = leaving;
    const abandoned = assert.rejects(left, /the kernel connection was closed/);
    await leaving.detach();
    await abandoned;
    assert.ok(requestId && kernelId && sessionId);

    // The block ends while no executor is connected: the server keeps its output for the session.
    const helper = new PodJupyterCodeExecutor(server, { timeout: 60 });
    await helper.start();
    try {
      const released = await run(
        helper,
        [
          'import os, time',
          `open('${scratch}/go', 'w').close()`,
          `while not os.path.exists('${scratch}/done'):`,
          '    time.sleep(0.05)',
        ].join('\n'),
      );
      assert.equal(released.exitCode, 0, released.output);
    } finally {
      await helper.stop();
    }

    const resuming = new PodJupyterCodeExecutor(server, { timeout: 20, kernelId, sessionId });
    await resuming.start();
    try {
      assert.equal(resuming.sessionId, sessionId);
      const streamed: string[] = [];
      const resumed = await resuming.resume(requestId, {
        onOutput: (event) => event.type === 'stream' && streamed.push(event.text),
      });
      assert.deepEqual(resumed, { exitCode: 0, output: 'after\n42\n', outputFiles: [] });
      assert.deepEqual(streamed, ['after\n']);
      const runs = await run(resuming, `print(open('${scratch}/runs').read().count('run'))`);
      assert.equal(runs.output, '1\n', 'the block ran once');
      await run(resuming, `import shutil; shutil.rmtree('${scratch}')`);
    } finally {
      await resuming.detach();
    }

    const elsewhere = new PodJupyterCodeExecutor(server, { timeout: 20, kernelId });
    await elsewhere.start();
    try {
      await assert.rejects(
        elsewhere.resume(requestId),
        /the block ended while no connection was open and the server kept none of its output/,
        'nothing is kept for another session: it is told so instead of waiting',
      );
    } finally {
      await elsewhere.stop();
    }
  });
});
