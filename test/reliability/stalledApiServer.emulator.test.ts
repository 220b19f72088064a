import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { makeApiClient, withApiRetry } from '../../src/core/apiRetry.ts';
import { PodCommandLineCodeExecutor } from '../../src/core/index.ts';
import { managedPodNames, withEmulator } from '../support/emulatorFixture.ts';
import { stallingProxyFor, type StallingProxy } from '../support/stallingProxy.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** The kill's deadline (10 s) and some slack for a loaded machine. */
const cancelBoundMs = 13_000;

describe('an API server that stops answering (a stalling proxy in front of the emulator)', () => {
  let emulator: Emulator;
  let proxy: StallingProxy;
  let executor: PodCommandLineCodeExecutor;
  let kubeConfig: KubeConfig;

  before(async () => {
    emulator = await withEmulator();
    ({ proxy, kubeConfig } = await stallingProxyFor(emulator));
    executor = new PodCommandLineCodeExecutor({ kubeconfig: kubeConfig, startupTimeout: 30 });
    await executor.start();
  });

  after(async () => {
    proxy.resume();
    await executor.stop();
    await proxy.close();
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours is left behind');
    await emulator.verifyNoLeaks();
  });

  test('cancel resolves within its bound and says the kill could not be confirmed', async () => {
    const controller = new AbortController();
    let cancelledAt = 0;
    const result = await executor.executeCodeBlocks(
      [{ language: 'sh', code: 'echo begun; sleep 30' }],
      {
        signal: controller.signal,
        onOutput: () => {
          // The block runs; from now on the server accepts connections and answers nothing.
          proxy.stall();
          cancelledAt = Date.now();
          controller.abort();
        },
      },
    );
    const took = Date.now() - cancelledAt;
    assert.ok(took < cancelBoundMs, `cancel took ${took} ms`);
    assert.ok(proxy.heldConnections >= 1, 'the kill tried to reach the server');
    assert.equal(result.exitCode, 1);
    assert.match(
      result.output,
      new RegExp(
        `^begun\\nThe kill of the block could not be confirmed in pod ${executor.podName} \\(the API server did not answer within 10 s\\): it may still be running\\.\\nCode execution was cancelled\\.$`,
      ),
    );
  });

  test('every API request has a deadline: a read fails in time instead of hanging', async () => {
    proxy.stall();
    const core = makeApiClient(kubeConfig, CoreV1Api, 1_000);
    const started = Date.now();
    await assert.rejects(
      withApiRetry(
        () => core.readNamespacedPod({ namespace: executor.namespace, name: executor.podName }),
        { idempotent: true },
      ),
      /the API server did not answer in time/,
    );
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  });
});
