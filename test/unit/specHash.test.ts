import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PodCommandLineCodeExecutor,
  PodJupyterServer,
  specHashAnnotation,
  specHashOf,
  type PodCommandLineCodeExecutorOptions,
  type PodJupyterServerOptions,
} from '../../src/core/index.ts';

const executorHash = (options: PodCommandLineCodeExecutorOptions) =>
  specHashOf(new PodCommandLineCodeExecutor({ namespace: 'ns', ...options }).podManifest);
const gatewayHash = (options: PodJupyterServerOptions) =>
  specHashOf(new PodJupyterServer({ podName: 'gateway', ...options }).manifestsFor('ns').pod);

test('every executor pod carries the hash of its settings: the same settings give the same hash, whatever the name, window and order', () => {
  const pod = new PodCommandLineCodeExecutor({ namespace: 'ns' }).podManifest;
  assert.match(pod.metadata?.annotations?.[specHashAnnotation] ?? '', /^[0-9a-f]{32}$/);
  const resources = { limits: { cpu: '1', memory: '1Gi' } };
  const reordered = { limits: { memory: '1Gi', cpu: '1' } };
  assert.equal(
    executorHash({ podName: 'a', labels: { team: 'x' }, resources }),
    executorHash({ podName: 'b', labels: { team: 'x' }, resources: reordered }),
  );
  // Another window of the workspace: its own session label, the same settings.
  assert.equal(
    executorHash({ labels: { 'pod-runner.dev/session': 'one', 'pod-runner.dev/client': 'c' } }),
    executorHash({ labels: { 'pod-runner.dev/session': 'two', 'pod-runner.dev/client': 'c' } }),
  );
  // A label a NetworkPolicy selects on, an annotation a mesh reads: settings too.
  assert.notEqual(executorHash({ labels: { team: 'x' } }), executorHash({ labels: { team: 'y' } }));
  const annotated = (inject: string) =>
    executorHash({
      podSpec: {
        metadata: { annotations: { 'sidecar.istio.io/inject': inject } },
        spec: { containers: [{ name: 'autogen-executor', image: 'python:3-slim' }] },
      },
    });
  assert.notEqual(annotated('true'), annotated('false'));
  assert.notEqual(executorHash({}), executorHash({ image: 'python:3.12-slim' }));
  assert.notEqual(executorHash({ resources }), executorHash({}));
  assert.notEqual(
    executorHash({ idleTimeoutMinutes: 60 }),
    executorHash({ idleTimeoutMinutes: 5 }),
  );
});

test('a podSpec keeps its own annotations next to the spec hash', () => {
  const pod = new PodCommandLineCodeExecutor({
    namespace: 'ns',
    podSpec: {
      metadata: { annotations: { owner: 'me' } },
      spec: { containers: [{ name: 'autogen-executor', image: 'python:3-slim' }] },
    },
  }).podManifest;
  assert.equal(pod.metadata?.annotations?.owner, 'me');
  assert.ok(pod.metadata?.annotations?.[specHashAnnotation]);
});

test('every gateway pod carries the hash of its spec; the token and namespace do not enter it, the image does', () => {
  assert.match(gatewayHash({}) ?? '', /^[0-9a-f]{32}$/);
  assert.equal(gatewayHash({ token: 'one' }), gatewayHash({ token: 'two' }));
  assert.equal(
    gatewayHash({}),
    specHashOf(new PodJupyterServer({ podName: 'gateway' }).manifestsFor('other').pod),
  );
  assert.notEqual(gatewayHash({}), gatewayHash({ image: 'example/gateway:2' }));
});
