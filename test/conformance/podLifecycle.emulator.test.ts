import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { apiRequest, eventually, withEmulator } from '../support/emulatorFixture.ts';
import { PodClient } from '../support/podHelpers.ts';

const manyToolsImage = 'registry.local/many-tools';
const phase = (expected: string) => (pod: V1Pod) => pod.status?.phase === expected;

describe('emulator pod lifecycle matches a kubelet', () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let pods: PodClient;

  before(async () => {
    emulator = await withEmulator({
      backoffBaseMs: 300,
      images: {
        unpullable: ['registry.local/missing'],
        images: {
          [manyToolsImage]: {
            commands: Object.fromEntries(
              Array.from({ length: 3000 }, (_, i) => [`tool-${i}`, { script: '#!/bin/sh\n' }]),
            ),
          },
        },
      },
    });
    pods = new PodClient(emulator);
  });

  after(async () => {
    await emulator.verifyNoLeaks();
  });

  const once = (name: string, script: string, restartPolicy = 'Never', image = 'busybox') =>
    pods.create({
      metadata: { name },
      spec: {
        restartPolicy,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image, command: ['sh', '-c', script] }],
      },
    });

  test('restartPolicy Never: exit 0 → Succeeded, exit 1 → Failed, with terminated state and conditions', async () => {
    await Promise.all([once('ok', 'echo done'), once('bad', 'echo failing; exit 1')]);
    const ok = await pods.waitFor('ok', phase('Succeeded'), 'Succeeded');
    const terminated = ok.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 0);
    assert.equal(terminated?.reason, 'Completed');
    assert.ok(
      ok.status?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'False' && c.reason === 'PodCompleted',
      ),
    );
    const bad = await pods.waitFor('bad', phase('Failed'), 'Failed');
    assert.equal(bad.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 1);
    assert.equal(bad.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Error');
    const logs = await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods/bad/log');
    assert.equal(logs.text, 'failing\n');
    await Promise.all([pods.delete('ok'), pods.delete('bad')]);
    await Promise.all([pods.waitGone('ok'), pods.waitGone('bad')]);
  });

  test('restartPolicy Always: a crashing container restarts with back-off (CrashLoopBackOff) and keeps its previous log', async () => {
    await once('crasher', 'echo run; exit 2', 'Always');
    const looping = await pods.waitFor(
      'crasher',
      (p) =>
        (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 &&
        p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff',
      'CrashLoopBackOff after two restarts',
    );
    const status = looping.status!.containerStatuses![0]!;
    assert.match(
      status.state!.waiting!.message!,
      /^back-off \d+s restarting failed container=main pod=crasher_default\(/,
    );
    assert.equal(status.lastState?.terminated?.exitCode, 2);
    assert.equal(looping.status?.phase, 'Running');
    const events = await pods.events('crasher');
    assert.ok(
      events.some(
        (e) =>
          e.reason === 'BackOff' &&
          e.type === 'Warning' &&
          /Back-off restarting failed container main/.test(e.message),
      ),
    );
    const previous = await apiRequest(
      emulator,
      'GET',
      '/api/v1/namespaces/default/pods/crasher/log?previous=true',
    );
    assert.equal(previous.status, 200);
    assert.equal(previous.text, 'run\n');
    await pods.delete('crasher');
    await pods.waitGone('crasher');
  });

  test('restartPolicy OnFailure restarts failures only', async () => {
    await once('retry', 'if [ -e /tmp/x ]; then exit 0; fi; exit 1', 'OnFailure');
    const restarted = await pods.waitFor(
      'retry',
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      'a restart',
    );
    assert.equal(restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
    await once('fine', 'exit 0', 'OnFailure');
    const fine = await pods.waitFor('fine', phase('Succeeded'), 'Succeeded');
    assert.equal(fine.status?.containerStatuses?.[0]?.restartCount, 0);
    await Promise.all([pods.delete('retry'), pods.delete('fine')]);
    await Promise.all([pods.waitGone('retry'), pods.waitGone('fine')]);
  });

  test('an unpullable image: ErrImagePull, then ImagePullBackOff, with Failed and BackOff events', async () => {
    await once('nopull', 'true', 'Never', 'invalid.example/team/tool:1.0');
    const backoff = await pods.waitFor(
      'nopull',
      (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff',
      'ImagePullBackOff',
    );
    assert.equal(backoff.status?.phase, 'Pending');
    assert.equal(
      backoff.status?.containerStatuses?.[0]?.state?.waiting?.message,
      'Back-off pulling image "invalid.example/team/tool:1.0"',
    );
    const events = await pods.events('nopull');
    assert.ok(
      events.some(
        (e) =>
          e.reason === 'Failed' &&
          e.message.startsWith('Failed to pull image "invalid.example/team/tool:1.0"'),
      ),
    );
    assert.ok(events.some((e) => e.reason === 'Failed' && e.message === 'Error: ErrImagePull'));
    assert.ok(
      events.some(
        (e) =>
          e.reason === 'BackOff' &&
          e.message === 'Back-off pulling image "invalid.example/team/tool:1.0"',
      ),
    );
    await once('nopull2', 'true', 'Never', 'registry.local/missing:2');
    await pods.waitFor(
      'nopull2',
      (p) =>
        /ErrImagePull|ImagePullBackOff/.test(
          p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? '',
        ),
      'listed unpullable image',
    );
    await Promise.all([pods.delete('nopull'), pods.delete('nopull2')]);
    await Promise.all([pods.waitGone('nopull'), pods.waitGone('nopull2')]);
  });

  test('activeDeadlineSeconds fails the pod with DeadlineExceeded', async () => {
    await pods.create({
      metadata: { name: 'deadline' },
      spec: {
        activeDeadlineSeconds: 1,
        terminationGracePeriodSeconds: 1,
        restartPolicy: 'Always',
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'],
          },
        ],
      },
    });
    const failed = await pods.waitFor('deadline', phase('Failed'), 'Failed');
    assert.equal(failed.status?.reason, 'DeadlineExceeded');
    assert.equal(
      failed.status?.message,
      'Pod was active on the node longer than the specified deadline',
    );
    const events = await pods.events('deadline');
    assert.ok(events.some((e) => e.reason === 'DeadlineExceeded'));
    await pods.delete('deadline');
    await pods.waitGone('deadline');
  });

  test('a pod deleted while the kubelet is still writing its container is finalized', async () => {
    // The image has many commands, so the container's files take a while to write: the delete
    // lands in the middle of it, as a delete right after a create does on a real node.
    const created = await pods.create({
      metadata: { name: 'early-delete' },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [{ name: 'main', image: manyToolsImage, command: ['sleep', '600'] }],
      },
    });
    const binDir = join(
      emulator.stateDirectory,
      'node/pods',
      created.metadata?.uid ?? '',
      'sandbox/main-0/bin',
    );
    await eventually(() => existsSync(binDir), 20_000, 'container setup to begin');
    await pods.delete('early-delete');
    // The grace period bounds it: 2 s, plus time for a loaded machine.
    await pods.waitGone('early-delete', 'default', 10_000);
  });

  test('a container command that does not exist ends in StartError (exit 128)', async () => {
    await pods.create({
      metadata: { name: 'nocmd' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: 'busybox', command: ['no-such-command'] }],
      },
    });
    const failed = await pods.waitFor('nocmd', phase('Failed'), 'Failed');
    const terminated = failed.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.reason, 'StartError');
    assert.equal(terminated?.exitCode, 128);
    assert.match(
      terminated?.message ?? '',
      /exec: "no-such-command": executable file not found in \$PATH/,
    );
    await pods.delete('nocmd');
    await pods.waitGone('nocmd');
  });

  test('readiness follows an httpGet probe; emptyDir is shared by the containers of a pod', async () => {
    await pods.create({
      metadata: { name: 'duo' },
      spec: {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'shared', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }],
        containers: [
          {
            name: 'writer',
            image: 'busybox',
            command: [
              'sh',
              '-c',
              'echo from-writer > /data/note; trap "exit 0" TERM; while true; do sleep 0.1; done',
            ],
            volumeMounts: [{ name: 'shared', mountPath: '/data' }],
          },
          {
            name: 'server',
            image: 'python:3-slim',
            command: ['sh', '-c', 'sleep 1; cd /srv && exec python -m http.server 7070'],
            volumeMounts: [{ name: 'shared', mountPath: '/srv' }],
            readinessProbe: { httpGet: { path: '/note', port: 7070 }, periodSeconds: 1 },
          },
        ],
      },
    });
    const early = await pods.waitFor('duo', phase('Running'), 'Running');
    assert.equal(
      early.status?.conditions?.find((c) => c.type === 'Ready')?.status,
      'False',
      'not ready before the probe passes',
    );
    const ready = await pods.waitReady('duo');
    assert.deepEqual(
      ready.status?.containerStatuses?.map((s) => s.ready),
      [true, true],
    );
    const read = await pods.exec('duo', ['cat', '/srv/note'], { container: 'server' });
    assert.equal(read.stdout, 'from-writer\n');
    await pods.delete('duo');
    await pods.waitGone('duo');
  });
});
