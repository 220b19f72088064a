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
  specHashOf,
  type PodJupyterServerOptions,
} from '../../src/core/index.ts';
import { KeptPods } from '../../src/extension/keptPods.ts';
import { apiRequest, eventually, managedNames } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';

let backend: TestBackend;
const client = 'kept-pods-workspace';
const labels = { [clientLabel]: client };
const logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

before(async () => {
  backend = await withBackend({ backoffBaseMs: 200 });
  configurationValues.set('cleanupPolicy', 'keep');
});
after(async () => {
  configurationValues.clear();
  await backend.verifyNoLeaks();
});

/** A window's kept pods over `stored` workspace state, its settings choosing `namespace`. */
function windowOf(stored: Map<string, unknown>, namespace?: string): KeptPods {
  const memento = {
    get: (key: string) => stored.get(key),
    update: (key: string, value: unknown) => Promise.resolve(void stored.set(key, value)),
  };
  const settings = parseSettings({
    kubeconfig: backend.kubeconfigPath,
    ...(namespace ? { namespace } : {}),
    cleanupPolicy: 'keep',
  });
  return new KeptPods({ settings, podLabels: labels, logger: logger as never }, memento as never);
}

/** A window's executor with `image`, as the extension builds it: the kept pod's name, or none. */
const executorBuild = (image: string) => (podName?: string) =>
  new PodCommandLineCodeExecutor({
    kubeconfig: backend.kubeconfigPath,
    ...(podName ? { podName } : {}),
    image,
    autoRemove: false,
    startupTimeout: 60,
    labels,
  });
const executorHash = (executor: PodCommandLineCodeExecutor) => specHashOf(executor.podManifest);

const podUid = async (name: string) =>
  (
    (await apiRequest(backend, 'GET', `/api/v1/namespaces/default/pods/${name}`)).body as {
      metadata: { uid: string };
    }
  ).metadata.uid;

const managed = async () =>
  Object.fromEntries(
    await Promise.all(
      ['pods', 'secrets', 'services'].map(
        async (resource) => [resource, await managedNames(backend, resource, 'default')] as const,
      ),
    ),
  );

test('a kept gateway deleted by hand: its Secret and Service are deleted and it is forgotten', async () => {
  const server = new PodJupyterServer({
    kubeconfig: backend.kubeconfigPath,
    startupTimeout: 60,
    podName: 'kept-gateway',
    autoRemove: false,
    labels,
  });
  await server.start();
  await server[Symbol.asyncDispose]();
  const stored = new Map<string, unknown>();
  await windowOf(stored).recordPod('gateway', 'kept-gateway');
  await apiRequest(backend, 'DELETE', '/api/v1/namespaces/default/pods/kept-gateway');
  await eventually(
    async () => (await managedNames(backend, 'pods', 'default')).length === 0,
    30_000,
    'the pod to be deleted',
  );
  const next = windowOf(stored);
  await next.discover();
  assert.deepEqual(await managed(), { pods: [], secrets: [], services: [] });
  assert.equal(
    await next.podFor(
      'gateway',
      (name) => name,
      () => undefined,
    ),
    undefined,
    'nothing to reuse',
  );
  assert.deepEqual((stored.get('podRunner.keptPods') as { pods: object }).pods, {});
});

test('a kept pod that ended (Failed) is deleted, not left for ever', async () => {
  await apiRequest(backend, 'POST', '/api/v1/namespaces/default/pods', {
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
      (await apiRequest(backend, 'GET', '/api/v1/namespaces/default/pods/kept-ended')).body as {
        status?: { phase?: string };
      }
    ).status?.phase;
  await eventually(async () => (await phase()) === 'Failed', 30_000, 'the pod to fail');
  const stored = new Map<string, unknown>();
  await windowOf(stored).recordPod('executor', 'kept-ended');
  await windowOf(stored).discover();
  await eventually(
    async () => (await managedNames(backend, 'pods', 'default')).length === 0,
    30_000,
    'the ended pod to be deleted',
  );
  assert.deepEqual((stored.get('podRunner.keptPods') as { pods: object }).pods, {});
});

test('pods kept in another namespace are left alone (not forgotten), and found again there', async () => {
  const executor = new PodCommandLineCodeExecutor({
    kubeconfig: backend.kubeconfigPath,
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
  const reused = await back.podFor('executor', executorBuild('python:3-slim'), executorHash);
  assert.equal(reused.podName, 'kept-executor', 'reused where it runs');
  await apiRequest(backend, 'DELETE', '/api/v1/namespaces/default/pods/kept-executor');
});

test('a kept executor pod is reused while the settings make the same pod; with another image it is deleted and a fresh one starts', async () => {
  const first = executorBuild('python:3-slim')('kept-spec-executor');
  await first.start();
  await first[Symbol.asyncDispose]();
  const keptUid = await podUid('kept-spec-executor');
  const stored = new Map<string, unknown>();
  await windowOf(stored).recordPod('executor', 'kept-spec-executor');

  const same = await windowOf(stored).podFor(
    'executor',
    executorBuild('python:3-slim'),
    executorHash,
  );
  assert.equal(same.podName, 'kept-spec-executor');
  await same.start();
  assert.equal(await podUid('kept-spec-executor'), keptUid, 'the kept pod itself, adopted');
  await same[Symbol.asyncDispose]();

  const changed = await windowOf(stored).podFor(
    'executor',
    executorBuild('python:3.12-slim'),
    executorHash,
  );
  assert.notEqual(changed.podName, 'kept-spec-executor', 'a fresh pod, not the kept one');
  await eventually(
    async () =>
      JSON.stringify(await managed()) === JSON.stringify({ pods: [], secrets: [], services: [] }),
    30_000,
    'the kept pod deleted',
  );
  assert.deepEqual((stored.get('podRunner.keptPods') as { pods: object }).pods, {}, 'forgotten');
});

test('a kept gateway is reused while the settings make the same pod; with another idle timeout it is deleted with its Secret and a fresh one starts', async () => {
  const gatewayBuild = (options: PodJupyterServerOptions) => (podName?: string) =>
    new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      ...(podName ? { podName } : {}),
      startupTimeout: 60,
      autoRemove: false,
      labels,
      ...options,
    });
  const gatewayHash = (server: PodJupyterServer) => specHashOf(server.manifestsFor('').pod);
  const first = gatewayBuild({ idleTimeoutMinutes: 30 })('kept-spec-gateway');
  await first.start();
  await first[Symbol.asyncDispose]();
  const stored = new Map<string, unknown>();
  await windowOf(stored).recordPod('gateway', 'kept-spec-gateway');

  const same = await windowOf(stored).podFor(
    'gateway',
    gatewayBuild({ idleTimeoutMinutes: 30 }),
    gatewayHash,
  );
  assert.equal(same.podName, 'kept-spec-gateway');
  assert.deepEqual(await managed(), {
    pods: ['kept-spec-gateway'],
    secrets: ['kept-spec-gateway-secret'],
    services: [],
  });

  const changed = await windowOf(stored).podFor(
    'gateway',
    gatewayBuild({ idleTimeoutMinutes: 5 }),
    gatewayHash,
  );
  assert.notEqual(changed.podName, 'kept-spec-gateway', 'a fresh gateway, not the kept one');
  await eventually(
    async () =>
      JSON.stringify(await managed()) === JSON.stringify({ pods: [], secrets: [], services: [] }),
    30_000,
    'pod and Secret deleted',
  );
  assert.deepEqual((stored.get('podRunner.keptPods') as { pods: object }).pods, {}, 'forgotten');
});
