import { configurationValues } from '../support/useVscodeStub.ts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  clientLabel,
  managedByLabel,
  managedByValue,
  parseSettings,
  PodCommandLineCodeExecutor,
  PodJupyterServer,
} from '../../src/core/index.ts';
import { KeptPods } from '../../src/extension/keptPods.ts';
import { apiRequest, eventually, managedNames, withEmulator } from '../support/emulatorFixture.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;
let emulator: Emulator;
const client = 'kept-pods-workspace';
const labels = { [clientLabel]: client };
const logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

before(async () => {
  emulator = await withEmulator({ backoffBaseMs: 200 });
  configurationValues.set('cleanupPolicy', 'keep');
});
after(async () => {
  configurationValues.clear();
  await emulator.verifyNoLeaks();
});

/** A window's kept pods over `stored` workspace state, its settings choosing `namespace`. */
function windowOf(stored: Map<string, unknown>, namespace?: string): KeptPods {
  const memento = {
    get: (key: string) => stored.get(key),
    update: (key: string, value: unknown) => Promise.resolve(void stored.set(key, value)),
  };
  const settings = parseSettings({
    kubeconfig: emulator.kubeconfigPath,
    ...(namespace ? { namespace } : {}),
    cleanupPolicy: 'keep',
  });
  return new KeptPods({ settings, podLabels: labels, logger: logger as never }, memento as never);
}

const managed = async () =>
  Object.fromEntries(
    await Promise.all(
      ['pods', 'secrets', 'services'].map(
        async (resource) => [resource, await managedNames(emulator, resource, 'default')] as const,
      ),
    ),
  );

test('a kept gateway deleted by hand: its Secret and Service are deleted and it is forgotten', async () => {
  const server = new PodJupyterServer({
    kubeconfig: emulator.kubeconfigPath,
    startupTimeout: 60,
    podName: 'kept-gateway',
    autoRemove: false,
    labels,
  });
  await server.start();
  await server[Symbol.asyncDispose]();
  const stored = new Map<string, unknown>();
  await windowOf(stored).recordPod('gateway', 'kept-gateway');
  await apiRequest(emulator, 'DELETE', '/api/v1/namespaces/default/pods/kept-gateway');
  await eventually(
    async () => (await managedNames(emulator, 'pods', 'default')).length === 0,
    30_000,
    'the pod to be deleted',
  );
  const next = windowOf(stored);
  await next.discover();
  assert.deepEqual(await managed(), { pods: [], secrets: [], services: [] });
  assert.equal(await next.reuse('gateway'), undefined, 'nothing to reuse');
  assert.deepEqual((stored.get('podRunner.keptPods') as { pods: object }).pods, {});
});

test('a kept pod that ended (Failed) is deleted, not left for ever', async () => {
  await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/pods', {
    body: {
      metadata: { name: 'kept-ended', labels: { [managedByLabel]: managedByValue, ...labels } },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'autogen-executor', image: 'busybox', command: ['false'] }],
      },
    },
  });
  const phase = async () =>
    (
      (await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods/kept-ended')).body as {
        status?: { phase?: string };
      }
    ).status?.phase;
  await eventually(async () => (await phase()) === 'Failed', 30_000, 'the pod to fail');
  const stored = new Map<string, unknown>();
  await windowOf(stored).recordPod('executor', 'kept-ended');
  await windowOf(stored).discover();
  await eventually(
    async () => (await managedNames(emulator, 'pods', 'default')).length === 0,
    30_000,
    'the ended pod to be deleted',
  );
  assert.deepEqual((stored.get('podRunner.keptPods') as { pods: object }).pods, {});
});

test('pods kept in another namespace are left alone (not forgotten), and found again there', async () => {
  const executor = new PodCommandLineCodeExecutor({
    kubeconfig: emulator.kubeconfigPath,
    podName: 'kept-executor',
    autoRemove: false,
    startupTimeout: 60,
    labels,
  });
  await executor.start();
  await executor[Symbol.asyncDispose]();
  const stored = new Map<string, unknown>();
  await windowOf(stored).recordPod('executor', 'kept-executor');
  const elsewhere = windowOf(stored, 'team-b');
  await elsewhere.discover();
  await elsewhere.removeWaiting();
  assert.equal(
    (stored.get('podRunner.keptPods') as { pods: { executor?: string } }).pods.executor,
    'kept-executor',
    'still recorded',
  );
  const back = windowOf(stored);
  assert.equal(await back.reuse('executor'), 'kept-executor', 'reused where it runs');
  await apiRequest(emulator, 'DELETE', '/api/v1/namespaces/default/pods/kept-executor');
});
