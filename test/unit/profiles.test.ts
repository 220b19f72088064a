import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  OptionError,
  PodCommandLineCodeExecutor,
  PodJupyterServer,
  defaultJupyterCommand,
  parseProfiles,
  parseSettings,
  profilePodSpec,
  type PodProfile,
} from '../../src/core/index.ts';
import { podOptionsOf } from '../../src/extension/profilePods.ts';
import { scratchDir } from '../support/scratch.ts';

type Container = {
  name: string;
  image: string;
  command?: string[];
  workingDir?: string;
  env?: { name: string; value: string }[];
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type Pod = {
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    nodeSelector?: Record<string, string>;
    tolerations?: Record<string, unknown>[];
    volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
    containers: Container[];
  };
};

const gpuLarge = {
  image: 'registry.example/torch:2',
  jupyterImage: 'registry.example/torch-gateway:2',
  resources: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': 1 },
  nodeSelector: { 'cloud.example/accelerator': 'a100' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
  volumes: [{ claimName: 'datasets.v2', mountPath: '/data', readOnly: true }],
  env: { HF_HOME: '/data/hf' },
};

const profileNamed = (name: string, raw: unknown): PodProfile => {
  const profile = parseProfiles({ [name]: raw })[0];
  assert.ok(profile);
  return profile;
};

const codeContainer = (pod: Pod) => {
  const container = pod.spec.containers.find((c) => c.name === 'autogen-executor');
  assert.ok(container, 'the pod has its code container');
  return container;
};

const executorPod = (profile: PodProfile, podSpec?: Record<string, unknown>) =>
  new PodCommandLineCodeExecutor({
    namespace: 'ns',
    podSpec: profilePodSpec(profile, 'executor', {
      ...(podSpec ? { podSpec } : {}),
      image: 'python:3-slim',
      limits: { cpu: '1' },
      workspacePath: '/workspace',
    }),
  }).podManifest as unknown as Pod;

const gatewayPod = (profile: PodProfile) =>
  new PodJupyterServer({
    podName: 'gateway',
    image: 'quay.io/jupyter/docker-stacks-foundation',
    podSpec: profilePodSpec(profile, 'kernel', {
      image: 'quay.io/jupyter/docker-stacks-foundation',
      workspacePath: '/workspace',
    }),
  }).manifestsFor('ns').pod as unknown as Pod;

test('profiles come from the settings, by name, typed', () => {
  const settings = parseSettings({ profiles: { 'gpu-large': gpuLarge, small: {} } });
  assert.deepEqual(
    settings.profiles.map((profile) => profile.name),
    ['gpu-large', 'small'],
  );
  assert.deepEqual(settings.profiles[0], {
    name: 'gpu-large',
    image: 'registry.example/torch:2',
    jupyterImage: 'registry.example/torch-gateway:2',
    limits: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': 1 },
    nodeSelector: { 'cloud.example/accelerator': 'a100' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    volumes: [
      { name: 'datasets-v2', claimName: 'datasets.v2', mountPath: '/data', readOnly: true },
    ],
    env: { HF_HOME: '/data/hf' },
  });
  assert.deepEqual(parseSettings({}).profiles, []);
});

test('an invalid profile names the key and the expected type', () => {
  const cases: [unknown, string, RegExp][] = [
    [[gpuLarge], 'podRunner.profiles', /expected an object of profiles by name, got a list/],
    [{ gpu: 'big' }, 'podRunner.profiles.gpu', /expected an object, got the string "big"/],
    [{ gpu: { image: 3 } }, 'podRunner.profiles.gpu.image', /expected a non-empty string/],
    [
      { gpu: { resources: { 'nvidia.com/gpu': '1' } } },
      'podRunner.profiles.gpu.resources.nvidia.com/gpu',
      /expected a whole number of devices, got the string "1"/,
    ],
    [
      { gpu: { resources: { gpus: 1 } } },
      'podRunner.profiles.gpu.resources.gpus',
      /expected cpu, memory or an extended resource such as nvidia.com\/gpu/,
    ],
    [
      { gpu: { resources: { memory: true } } },
      'podRunner.profiles.gpu.resources.memory',
      /expected a quantity such as "2", "500m" or "8Gi", got a boolean/,
    ],
    [
      { gpu: { nodeSelector: { zone: 1 } } },
      'podRunner.profiles.gpu.nodeSelector.zone',
      /expected a string, got a number/,
    ],
    [
      { gpu: { tolerations: [{ operator: 'Maybe' }] } },
      'podRunner.profiles.gpu.tolerations[0].operator',
      /expected "Exists" or "Equal"/,
    ],
    [
      { gpu: { volumes: [{ claimName: 'data', mountPath: 'data' }] } },
      'podRunner.profiles.gpu.volumes[0].mountPath',
      /expected an absolute path in the pod, got the string "data"/,
    ],
    [
      { gpu: { volumes: [{ mountPath: '/data' }] } },
      'podRunner.profiles.gpu.volumes[0].claimName',
      /expected the name of a PersistentVolumeClaim/,
    ],
    [
      { gpu: { env: { 'NOT VALID': 'x' } } },
      'podRunner.profiles.gpu.env.NOT VALID',
      /expected a name of letters/,
    ],
    [{ gpu: { podSpec: 7 } }, 'podRunner.profiles.gpu.podSpec', /expected a Pod manifest/],
    [{ gpu: { cpu: '2' } }, 'podRunner.profiles.gpu.cpu', /unknown field; a profile has image/],
    [{ 'gpu large': {} }, 'podRunner.profiles.gpu large', /a profile name has at most 63/],
    [{ ['g'.repeat(64)]: {} }, `podRunner.profiles.${'g'.repeat(64)}`, /at most 63 letters/],
  ];
  for (const [profiles, key, message] of cases) {
    assert.throws(
      () => parseSettings({ profiles }),
      (error: OptionError) =>
        error instanceof OptionError && error.option === key && message.test(error.message),
      `${JSON.stringify(profiles)} names ${key}`,
    );
  }
});

test("a profile shapes the executor pod through the executor's own podSpec merge", () => {
  const pod = executorPod(profileNamed('gpu-large', gpuLarge));
  const container = codeContainer(pod);
  assert.equal(container.image, 'registry.example/torch:2');
  const defaultPod = new PodCommandLineCodeExecutor({ namespace: 'ns' }).podManifest as unknown;
  assert.deepEqual(
    container.command,
    codeContainer(defaultPod as Pod).command,
    "the merge gives it the default pod's keep-alive",
  );
  assert.equal(container.workingDir, '/workspace');
  assert.deepEqual(container.resources?.limits, {
    cpu: '8',
    memory: '32Gi',
    'nvidia.com/gpu': 1,
  });
  assert.deepEqual(container.env, [{ name: 'HF_HOME', value: '/data/hf' }]);
  assert.deepEqual(container.volumeMounts, [
    { name: 'datasets-v2', mountPath: '/data', readOnly: true },
  ]);
  assert.deepEqual(pod.spec.nodeSelector, { 'cloud.example/accelerator': 'a100' });
  assert.deepEqual(pod.spec.tolerations, gpuLarge.tolerations);
  assert.deepEqual(pod.spec.volumes, [
    { name: 'datasets-v2', persistentVolumeClaim: { claimName: 'datasets.v2', readOnly: true } },
  ]);
  assert.equal(pod.metadata.labels['app.kubernetes.io/managed-by'], 'pod-runner');
});

test("without limits of its own a profile keeps the settings' limits and image", () => {
  const container = codeContainer(executorPod(profileNamed('plain', {})));
  assert.equal(container.image, 'python:3-slim');
  assert.deepEqual(container.resources?.limits, { cpu: '1' });
  assert.deepEqual(
    codeContainer(executorPod(profileNamed('cpu', { resources: { cpu: 4 } }))).resources?.limits,
    { cpu: 4 },
  );
});

test("a profile shapes the gateway pod through the gateway's merge, which still starts the gateway", () => {
  const pod = gatewayPod(profileNamed('gpu-large', gpuLarge));
  const container = codeContainer(pod);
  assert.equal(container.image, 'registry.example/torch-gateway:2');
  // The gateway's own command (with its idle supervisor), as a pod without a profile gets it.
  const plainCommand = codeContainer(gatewayPod(profileNamed('plain', {}))).command;
  assert.deepEqual(container.command, plainCommand);
  assert.ok(
    plainCommand?.some((part) => part.includes(defaultJupyterCommand[4]!.split(';')[0]!)),
    'it installs and starts the kernel gateway',
  );
  assert.deepEqual(container.resources?.limits, {
    cpu: '8',
    memory: '32Gi',
    'nvidia.com/gpu': 1,
  });
  assert.deepEqual(
    container.env?.map((variable) => variable.name),
    ['HF_HOME', 'KG_PORT', 'KG_IP', 'KG_LIST_KERNELS'],
  );
  assert.deepEqual(pod.spec.nodeSelector, gpuLarge.nodeSelector);
  assert.deepEqual(pod.spec.volumes?.[0]?.persistentVolumeClaim, {
    claimName: 'datasets.v2',
    readOnly: true,
  });
  assert.equal(
    codeContainer(gatewayPod(profileNamed('plain', {}))).image,
    'quay.io/jupyter/docker-stacks-foundation',
    'without a jupyterImage the settings choose the gateway image',
  );
});

test("a profile's podSpec (a file) replaces the settings' podSpec; its containers and fields stay", () => {
  const dir = scratchDir('profiles');
  const file = join(dir, 'gpu-pod.yaml');
  writeFileSync(
    file,
    [
      'kind: Pod',
      'spec:',
      '  priorityClassName: batch',
      '  nodeSelector: { pool: gpu }',
      '  containers:',
      '    - name: autogen-executor',
      '      image: from-spec:1',
      '      env: [{ name: HF_HOME, value: /old }, { name: KEEP, value: "1" }]',
      '      resources: { requests: { cpu: "2" } }',
      '    - name: sidecar',
      '      image: busybox',
      '',
    ].join('\n'),
  );
  const settingsSpec = { spec: { priorityClassName: 'interactive' } };
  const withSpec = profileNamed('gpu', { podSpec: file, env: { HF_HOME: '/data/hf' } });
  const pod = executorPod(withSpec, settingsSpec) as Pod & { spec: { priorityClassName: string } };
  assert.equal(pod.spec.priorityClassName, 'batch');
  assert.deepEqual(
    pod.spec.containers.map((c) => c.name),
    ['autogen-executor', 'sidecar'],
  );
  const container = codeContainer(pod);
  assert.equal(container.image, 'from-spec:1', "the spec's image when the profile names none");
  assert.deepEqual(container.env, [
    { name: 'KEEP', value: '1' },
    { name: 'HF_HOME', value: '/data/hf' },
  ]);
  assert.deepEqual(container.resources, { requests: { cpu: '2' }, limits: { cpu: '1' } });
  assert.deepEqual(pod.spec.nodeSelector, { pool: 'gpu' });
  const fromSettings = executorPod(profileNamed('plain', {}), settingsSpec) as Pod & {
    spec: { priorityClassName: string };
  };
  assert.equal(fromSettings.spec.priorityClassName, 'interactive');
});

test("a broken profile podSpec is reported with the profile's name", () => {
  assert.throws(
    () => executorPod(profileNamed('gpu', { podSpec: 'spec: [unclosed' })),
    /profile gpu: podSpec: invalid YAML\/JSON/,
  );
});

test("the extension builds the pods from the settings alone without a profile, from the profile's podSpec with one", async () => {
  const settings = parseSettings({
    image: 'python:3.12',
    jupyterImage: 'gateway:1',
    podSpec: { spec: { priorityClassName: 'interactive' } },
    resources: { memory: '2Gi' },
    profiles: { 'gpu-large': gpuLarge },
  });
  assert.deepEqual(await podOptionsOf(settings, undefined, 'executor'), {
    image: 'python:3.12',
    podSpec: { spec: { priorityClassName: 'interactive' } },
    resources: { limits: { memory: '2Gi' } },
    labels: {},
  });
  assert.deepEqual(
    await podOptionsOf(settings, undefined, 'kernel'),
    { image: 'gateway:1', labels: {} },
    "the podSpec and resources settings are the executor pod's",
  );
  const profile = settings.profiles[0];
  const executor = await podOptionsOf(settings, profile, 'executor');
  assert.equal(executor.image, 'registry.example/torch:2');
  assert.deepEqual(executor.labels, { 'pod-runner.dev/profile': 'gpu-large' });
  const pod = new PodCommandLineCodeExecutor({ namespace: 'ns', ...executor })
    .podManifest as unknown as Pod & { spec: { priorityClassName: string } };
  assert.equal(pod.spec.priorityClassName, 'interactive');
  assert.deepEqual(codeContainer(pod).resources?.limits, {
    memory: '32Gi',
    cpu: '8',
    'nvidia.com/gpu': 1,
  });
  const kernel = await podOptionsOf(settings, profile, 'kernel');
  assert.equal(kernel.image, 'registry.example/torch-gateway:2');
  assert.equal(
    ((kernel.podSpec as { spec: Pod['spec'] }).spec.containers[0] as Container).image,
    'registry.example/torch-gateway:2',
  );
});
