import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ExecutorStateError,
  KubeconfigError,
  PodCommandLineCodeExecutor,
  PodJupyterServer,
} from '../../src/core/index.ts';

/** A valid kubeconfig; the executors below ask for a context it lacks, so every start fails at once. */
function kubeConfigWithoutTheContext(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return kubeConfig;
}

const notRunning = (error: unknown) =>
  error instanceof ExecutorStateError && /not running: call start\(\) first/.test(error.message);

test('PodJupyterServer and PodCommandLineCodeExecutor share one lifecycle: concurrent start() calls are one start, wrong-state calls are ExecutorStateError', async () => {
  const options = { kubeconfig: kubeConfigWithoutTheContext(), context: 'missing' };
  const server = new PodJupyterServer(options);
  const executor = new PodCommandLineCodeExecutor(options);
  await assert.rejects(server.connect(), notRunning);
  await assert.rejects(server.openTerminal(), notRunning);
  await assert.rejects(server.readLogs(), notRunning);
  await assert.rejects(executor.readLogs(), notRunning);
  await assert.rejects(executor.openTerminal(), notRunning);
  await server.stop();
  await executor.stop();
  for (const subject of [server, executor]) {
    const first = subject.start();
    const second = subject.start();
    assert.equal(first, second, 'a second start() while one runs shares it');
    const [a, b] = await Promise.allSettled([first, second]);
    assert.equal(a.status, 'rejected');
    assert.equal(b.status, 'rejected');
    assert.ok(
      a.status === 'rejected' && a.reason instanceof KubeconfigError,
      String(a.status === 'rejected' ? a.reason : a),
    );
    assert.equal(subject.isRunning, false);
    assert.notEqual(subject.start(), first, 'after a failed start, start() tries again');
    await subject.start().catch(() => undefined);
  }
});
