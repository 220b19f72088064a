import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiException,
  KubeConfig,
  type CoreV1Api,
  type V1ContainerStatus,
  type V1Pod,
  type V1PodStatus,
} from '@kubernetes/client-node';
import { PodStartError, silentLogger } from '../../src/core/index.ts';
import { fatalPodCondition, isPodReady } from '../../src/core/podConditions.ts';
import { PodLauncher } from '../../src/core/podLauncher.ts';

const pod = (status: V1PodStatus): V1Pod => ({ metadata: { name: 'p' }, status });
const waiting = (name: string, reason: string, message?: string): V1ContainerStatus => ({
  name,
  image: 'python:3-slim',
  imageID: '',
  ready: false,
  restartCount: 0,
  state: { waiting: { reason, ...(message ? { message } : {}) } },
});

test('a container waiting for a reason that retrying cannot fix ends the start, naming the container', () => {
  const fatal = [
    'ErrImagePull',
    'ImagePullBackOff',
    'InvalidImageName',
    'ErrImageNeverPull',
    'CrashLoopBackOff',
    'CreateContainerConfigError',
    'CreateContainerError',
    'RunContainerError',
  ];
  for (const reason of fatal) {
    assert.deepEqual(
      fatalPodCondition(
        pod({ phase: 'Pending', containerStatuses: [waiting('main', reason, 'details here')] }),
      ),
      { reason, message: `container main: ${reason}: details here` },
      reason,
    );
  }
  assert.deepEqual(
    fatalPodCondition(
      pod({ phase: 'Pending', initContainerStatuses: [waiting('setup', 'ImagePullBackOff')] }),
    ),
    { reason: 'ImagePullBackOff', message: 'container setup: ImagePullBackOff' },
    'an init container counts too',
  );
});

test('a container still being set up is not fatal: the start keeps waiting', () => {
  for (const reason of ['ContainerCreating', 'PodInitializing']) {
    assert.equal(
      fatalPodCondition(pod({ phase: 'Pending', containerStatuses: [waiting('main', reason)] })),
      undefined,
      reason,
    );
  }
  assert.equal(fatalPodCondition(pod({ phase: 'Pending' })), undefined, 'not yet scheduled');
  assert.equal(fatalPodCondition({ metadata: { name: 'p' } }), undefined, 'no status yet');
  assert.equal(
    fatalPodCondition(
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulerError' }],
      }),
    ),
    undefined,
    'only Unschedulable is final among scheduling failures',
  );
});

test('what a real node gets past by itself is not fatal: a secret cache not synced, a node not ready yet, a claim not bound yet', () => {
  assert.equal(
    fatalPodCondition(
      pod({
        phase: 'Pending',
        containerStatuses: [
          waiting(
            'autogen-executor',
            'CreateContainerConfigError',
            'failed to sync secret cache: timed out waiting for the condition',
          ),
        ],
      }),
    ),
    undefined,
  );
  assert.equal(
    fatalPodCondition(
      pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message:
              '0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
          },
        ],
      }),
    ),
    undefined,
  );
  const scheduling = (message: string) =>
    pod({
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
    });
  assert.equal(
    fatalPodCondition(
      scheduling(
        '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
      ),
    ),
    undefined,
    'a claim the volume controller has not bound yet',
  );
  assert.equal(
    fatalPodCondition(
      scheduling(
        '0/1 nodes are available: persistentvolumeclaim "analysis-data" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
      ),
    )?.reason,
    'Unschedulable',
    'a claim that does not exist ends the start',
  );
  assert.deepEqual(
    fatalPodCondition(
      pod({
        phase: 'Pending',
        containerStatuses: [
          waiting('main', 'CreateContainerConfigError', 'secret "missing" not found'),
        ],
      }),
    ),
    {
      reason: 'CreateContainerConfigError',
      message: 'container main: CreateContainerConfigError: secret "missing" not found',
    },
    'a missing secret still ends the start',
  );
});

test('an unschedulable pod ends the start with the scheduler message', () => {
  assert.deepEqual(
    fatalPodCondition(
      pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/3 nodes are available: 3 Insufficient memory.',
          },
        ],
      }),
    ),
    {
      reason: 'Unschedulable',
      message: 'the pod cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory.',
    },
  );
});

test('a pod that already ended (Failed or Succeeded) ends the start with its exit', () => {
  const terminated = (exitCode: number, reason: string, message?: string): V1ContainerStatus => ({
    name: 'main',
    image: 'python:3-slim',
    imageID: '',
    ready: false,
    restartCount: 0,
    state: { terminated: { exitCode, reason, ...(message ? { message } : {}) } },
  });
  assert.deepEqual(
    fatalPodCondition(
      pod({ phase: 'Failed', containerStatuses: [terminated(2, 'Error', 'bad flag')] }),
    ),
    {
      reason: 'Failed',
      message: 'the pod is Failed: container exited with code 2 (Error): bad flag',
    },
  );
  assert.deepEqual(
    fatalPodCondition(pod({ phase: 'Succeeded', containerStatuses: [terminated(0, 'Completed')] })),
    {
      reason: 'Succeeded',
      message: 'the pod is Succeeded: container exited with code 0 (Completed)',
    },
    'a container that exits at once (no keep-alive) leaves a pod that can never be ready',
  );
  assert.deepEqual(
    fatalPodCondition(
      pod({
        phase: 'Failed',
        reason: 'DeadlineExceeded',
        message: 'Pod was active on the node longer than the specified deadline',
      }),
    ),
    {
      reason: 'DeadlineExceeded',
      message: 'the pod is Failed: Pod was active on the node longer than the specified deadline',
    },
    'the pod-level reason wins (activeDeadlineSeconds)',
  );
});

test('ready means Running with the Ready condition True', () => {
  const ready = { type: 'Ready', status: 'True' };
  assert.equal(isPodReady(pod({ phase: 'Running', conditions: [ready] })), true);
  assert.equal(
    isPodReady(pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] })),
    false,
    'a failing readiness probe',
  );
  assert.equal(isPodReady(pod({ phase: 'Running' })), false);
  assert.equal(isPodReady(pod({ phase: 'Succeeded', conditions: [ready] })), false);
});

test('PodLauncher ends a start on a fatal pod with a PodStartError carrying the reason, the Events and the last log lines', async () => {
  const failing = pod({
    phase: 'Pending',
    containerStatuses: [waiting('main', 'ImagePullBackOff', 'Back-off pulling image "nope"')],
  });
  const core = {
    readNamespacedPod: () => Promise.resolve(failing),
    listNamespacedEvent: () =>
      Promise.resolve({
        items: [{ type: 'Warning', reason: 'Failed', message: 'Failed to pull image "nope"' }],
      }),
    readNamespacedPodLog: () => Promise.resolve('last words\n'),
  } as unknown as CoreV1Api;
  const launcher = new PodLauncher({
    kubeConfig: new KubeConfig(),
    core,
    namespace: 'default',
    logger: silentLogger,
  });
  await assert.rejects(launcher.waitUntilReady('p', 60_000), (error: unknown) => {
    assert.ok(error instanceof PodStartError);
    assert.equal(error.reason, 'ImagePullBackOff');
    assert.equal(error.pod, 'p');
    assert.deepEqual(error.events, ['Warning Failed: Failed to pull image "nope"']);
    assert.equal(error.logTail, 'last words\n');
    assert.equal(
      error.message,
      [
        'pod p failed to start: container main: ImagePullBackOff: Back-off pulling image "nope"',
        'Events:',
        '  Warning Failed: Failed to pull image "nope"',
        'Last log lines:',
        '  last words',
      ].join('\n'),
    );
    return true;
  });
});

test('PodLauncher ends a start on a pod that is gone with reason Deleted', async () => {
  const core = {
    readNamespacedPod: () => Promise.reject(new ApiException(404, 'not found', {}, {})),
  } as unknown as CoreV1Api;
  const launcher = new PodLauncher({
    kubeConfig: new KubeConfig(),
    core,
    namespace: 'default',
    logger: silentLogger,
  });
  await assert.rejects(
    launcher.waitUntilReady('p', 60_000),
    (error: unknown) =>
      error instanceof PodStartError &&
      error.reason === 'Deleted' &&
      error.message === 'pod p was deleted while starting',
  );
});
