import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OptionError, PodCommandLineCodeExecutor, SpecError } from '../../src/core/index.ts';
import { scratchDir } from '../support/scratch.ts';

type Pod = {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    automountServiceAccountToken: boolean;
    restartPolicy: string;
    volumes?: { name: string }[];
    containers: {
      name: string;
      image: string;
      command?: string[];
      workingDir?: string;
      volumeMounts?: { name: string; mountPath: string }[];
    }[];
  };
};
const manifest = (options: ConstructorParameters<typeof PodCommandLineCodeExecutor>[0]) =>
  new PodCommandLineCodeExecutor(options).podManifest as unknown as Pod;

test("the default pod is the seed's, with our labels and a TERM-aware keep-alive", () => {
  const pod = manifest({ namespace: 'ns' });
  assert.match(pod.metadata.name, /^autogen-code-exec-[0-9a-f-]{36}$/);
  assert.equal(pod.metadata.namespace, 'ns');
  assert.equal(pod.metadata.labels['app.kubernetes.io/managed-by'], 'pod-runner');
  assert.match(pod.metadata.labels['pod-runner.dev/executor-id']!, /^[0-9a-f-]{36}$/);
  assert.equal(pod.spec.automountServiceAccountToken, false);
  assert.equal(pod.spec.restartPolicy, 'Never');
  const [container] = pod.spec.containers;
  assert.equal(container?.name, 'autogen-executor');
  assert.equal(container?.image, 'python:3-slim');
  assert.equal(container?.workingDir, '/workspace');
  assert.match(container?.command?.join(' ') ?? '', /trap 'exit 0' TERM/);
});

test('a volume in each form is added and mounted at the workspace, with or without a podSpec', () => {
  const dir = scratchDir('pod-runner-volume-');
  const volumeFile = join(dir, 'volume.yaml');
  writeFileSync(volumeFile, 'name: data\npersistentVolumeClaim: {claimName: work}\n');
  for (const volume of [
    { name: 'data', emptyDir: {} },
    'name: data\nemptyDir: {}',
    '{"name": "data", "emptyDir": {}}',
    volumeFile,
  ]) {
    const plain = manifest({ volume });
    assert.equal(plain.spec.volumes?.[0]?.name, 'data');
    assert.deepEqual(plain.spec.containers[0]?.volumeMounts, [
      { name: 'data', mountPath: '/workspace' },
    ]);
    const withSpec = manifest({
      volume,
      podSpec: { spec: { containers: [{ name: 'autogen-executor', image: 'python:3.12' }] } },
    });
    assert.deepEqual(
      withSpec.spec.containers[0]?.volumeMounts,
      [{ name: 'data', mountPath: '/workspace' }],
      'the seed forgot this mount',
    );
  }
  assert.throws(() => manifest({ volume: { emptyDir: {} } }), /volume: .* needs a name/);
});

test('a podSpec in each form is merged with the defaults as the seed does', () => {
  const dir = scratchDir('pod-runner-podspec-');
  const yaml =
    'metadata:\n  name: custom\nspec:\n  containers:\n  - name: autogen-executor\n    image: python:3.12\n  - name: sidecar\n    image: busybox\n';
  const path = join(dir, 'pod.yaml');
  writeFileSync(path, `kind: Service\n---\nkind: Pod\n${yaml}`);
  for (const podSpec of [
    yaml,
    path,
    {
      metadata: { name: 'custom' },
      spec: { containers: [{ name: 'autogen-executor', image: 'python:3.12' }] },
    },
  ]) {
    const pod = manifest({ podSpec, namespace: 'team' });
    assert.equal(pod.metadata.name, 'custom');
    assert.equal(pod.metadata.namespace, 'team');
    assert.equal(pod.metadata.labels['app.kubernetes.io/managed-by'], 'pod-runner');
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.match(
      pod.spec.containers[0]?.command?.join(' ') ?? '',
      /trap/,
      'an executor container without a command gets the keep-alive',
    );
  }
  const defaulted = manifest({ podSpec: { metadata: { labels: { team: 'x' } } } });
  assert.equal(defaulted.spec.containers[0]?.name, 'autogen-executor');
  assert.equal(defaulted.metadata.labels.team, 'x');
});

test('bad specs and options fail with errors naming the source and field', () => {
  assert.throws(
    () => manifest({ podSpec: { spec: { containers: [{ name: 'other', image: 'x' }] } } }),
    (error: SpecError) => {
      assert.ok(error instanceof SpecError);
      assert.match(error.message, /no container named "autogen-executor" \(found: other\)/);
      assert.equal(error.field, 'spec.containers');
      return true;
    },
  );
  assert.throws(
    () => manifest({ podSpec: { spec: { containers: 'x' } } }),
    /spec\.containers must be a list of containers, got the string "x"/,
  );
  assert.throws(
    () =>
      manifest({
        podSpec: {
          spec: { containers: [{ name: 'autogen-executor', image: 'x', command: 'sleep' }] },
        },
      }),
    /spec\.containers\[0\]\.command must be a list of strings/,
  );
  for (const podName of ['a-', 'Upper', '-a', 'a_b', '']) {
    assert.throws(
      () => manifest({ podName }),
      (error: OptionError) =>
        error instanceof OptionError && /is not a valid pod name/.test(error.message),
      podName,
    );
  }
  assert.throws(
    () => manifest({ workspacePath: 'workspace' }),
    /workspacePath: must be an absolute POSIX path inside the pod, got "workspace"/,
  );
  assert.throws(() => manifest({ workspacePath: 'C:\\work' }), /workspacePath/);
  assert.throws(
    () => manifest({ functionsModule: 'my-functions' }),
    /functionsModule: must be a valid Python identifier/,
  );
  assert.throws(() => manifest({ timeout: 0 }), /timeout: must be a number of at least 1/);
});
