import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { listManagedPods, reapOrphanedPods } from '../../src/core/index.ts';
import { withEmulator } from '../support/emulatorFixture.ts';
import { stallingProxyFor, type StallingProxy } from '../support/stallingProxy.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** The deadline given to each request, and some slack for a loaded machine. */
const apiTimeoutMs = 1_000;
const boundMs = 3_000;

describe('looking for Pod Runner pods while the API server accepts connections and answers nothing', () => {
  let emulator: Emulator;
  let proxy: StallingProxy;
  let kubeConfig: KubeConfig;

  before(async () => {
    emulator = await withEmulator();
    ({ proxy, kubeConfig } = await stallingProxyFor(emulator));
  });

  after(async () => {
    await proxy.close();
    await emulator.verifyNoLeaks();
    await emulator.stop();
  });

  for (const [name, look] of [
    ['listManagedPods', () => listManagedPods({ kubeconfig: kubeConfig, apiTimeoutMs })],
    ['reapOrphanedPods', () => reapOrphanedPods({ kubeconfig: kubeConfig, apiTimeoutMs })],
  ] as const) {
    test(
      `${name} fails within its deadline, and works again once the server answers`,
      { timeout: 15_000 },
      async () => {
        proxy.stall();
        const started = Date.now();
        await assert.rejects(look(), /the API server did not answer in time/);
        const took = Date.now() - started;
        assert.ok(took < boundMs, `took ${took} ms`);
        assert.ok(proxy.heldConnections >= 1, 'the request reached the stalled server');
        proxy.resume();
        assert.deepEqual(await look(), []);
      },
    );
  }
});
