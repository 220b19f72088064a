import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { connect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Exec, Watch, type V1Pod } from '@kubernetes/client-node';
import { apiRequest, eventually, withEmulator } from '../support/emulatorFixture.ts';
import { PodClient, textSink } from '../support/podHelpers.ts';

const keepAlive = 'trap "exit 0" TERM; while true; do sleep 0.1; done';

describe('emulator fault injection', () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let pods: PodClient;

  before(async () => {
    emulator = await withEmulator();
    pods = new PodClient(emulator);
  });

  after(async () => {
    emulator.faults.delayPodStart(0);
    await emulator.verifyNoLeaks();
  });

  test('the next N matching requests fail with 500, 429 (Retry-After) or 403; others pass', async () => {
    emulator.faults.failRequests({ verb: 'create', resource: 'configmaps', status: 500, count: 2 });
    emulator.faults.failRequests({
      verb: 'get',
      resource: 'configmaps',
      status: 429,
      retryAfterSeconds: 3,
    });
    const body = { metadata: { name: 'flaky' } };
    const first = await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/configmaps', {
      body,
    });
    assert.equal(first.status, 500);
    assert.equal((first.body as { reason: string }).reason, 'InternalError');
    assert.equal(
      (await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods')).status,
      200,
      'other requests are unaffected',
    );
    assert.equal(
      (await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/configmaps', { body }))
        .status,
      500,
    );
    assert.equal(
      (await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/configmaps', { body }))
        .status,
      201,
    );
    const limited = await apiRequest(
      emulator,
      'GET',
      '/api/v1/namespaces/default/configmaps/flaky',
    );
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '3');
    assert.equal(
      (limited.body as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds,
      3,
    );
    assert.equal(
      (await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/configmaps/flaky')).status,
      200,
    );
    emulator.faults.failRequests({ resource: 'pods/exec', status: 403 });
    await pods.run('guarded', keepAlive);
    await assert.rejects(pods.exec('guarded', ['true']));
    assert.equal((await pods.exec('guarded', ['true'])).status.status, 'Success');
  });

  test("dropping a pod's connections cuts its exec and watch streams; the exec'd process keeps running", async () => {
    const events: string[] = [];
    let watchEnded: unknown = 'open';
    const watch = await new Watch(pods.config).watch(
      '/api/v1/namespaces/default/pods',
      { fieldSelector: 'metadata.name=guarded' },
      (type: string) => events.push(type),
      (error: unknown) => (watchEnded = error),
    );
    const stdout = textSink();
    let statusSeen = false;
    const socket = await new Exec(pods.config).exec(
      'default',
      'guarded',
      'main',
      ['sh', '-c', 'echo begin; sleep 1; echo end > /tmp/after-drop'],
      stdout,
      null,
      null,
      false,
      () => (statusSeen = true),
    );
    const closed = new Promise<number>((resolve) =>
      socket.once('close', (code: number) => resolve(code)),
    );
    await eventually(
      () => (stdout.text() === 'begin\n' && events.length > 0 ? true : undefined),
      5_000,
      'streams open',
    );
    assert.ok(emulator.faults.dropConnections('default', 'guarded') >= 2);
    assert.equal(await closed, 1006, 'an abnormal closure, as when a TCP connection is cut');
    assert.equal(statusSeen, false);
    await eventually(() => (watchEnded !== 'open' ? true : undefined), 5_000, 'the watch to end');
    watch.abort();
    const after = await eventually(
      async () => {
        const r = await pods.exec('guarded', ['cat', '/tmp/after-drop']);
        return r.status.status === 'Success' ? r.stdout : undefined;
      },
      10_000,
      'the process to finish after the drop',
    );
    assert.equal(after, 'end\n');
  });

  test('killing a pod as the OOM killer would: Failed with OOMKilled and exit 137', async () => {
    await pods.create({
      metadata: { name: 'hungry' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', keepAlive] }],
      },
    });
    await pods.waitReady('hungry');
    emulator.faults.killPod('default', 'hungry', 'OOMKilled');
    const failed = await pods.waitFor(
      'hungry',
      (p: V1Pod) => p.status?.phase === 'Failed',
      'Failed',
    );
    const terminated = failed.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.reason, 'OOMKilled');
    assert.equal(terminated?.exitCode, 137);
    await pods.delete('hungry');
    await pods.waitGone('hungry');
  });

  test('a delayed pod start keeps the pod Pending for that long', async () => {
    emulator.faults.delayPodStart(1_000);
    const started = Date.now();
    await pods.create({
      metadata: { name: 'slow' },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', keepAlive] }],
      },
    });
    const pending = await pods.read('slow');
    assert.equal(pending.status?.phase, 'Pending');
    await pods.waitReady('slow');
    assert.ok(Date.now() - started >= 950, 'ready only after the delay');
    emulator.faults.delayPodStart(0);
    await pods.delete('slow');
    await pods.waitGone('slow');
  });

  test('an API server restart cuts connections, refuses requests while down, and keeps all state', async () => {
    const before = (await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods/guarded'))
      .body as V1Pod;
    const restarting = emulator.faults.restartApiServer(500);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await assert.rejects(
      apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods'),
      /ECONNREFUSED/,
    );
    await restarting;
    const after = (await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods/guarded'))
      .body as V1Pod;
    assert.equal(after.metadata?.uid, before.metadata?.uid);
    assert.equal(after.status?.phase, 'Running');
    assert.equal((await pods.exec('guarded', ['echo', 'still here'])).stdout, 'still here\n');
    await pods.delete('guarded');
    await pods.waitGone('guarded');
  });
});

describe('a client that resets its connection during a refused WebSocket upgrade', () => {
  test('does not crash the apiserver (an uncaught ECONNRESET would fail this file)', async () => {
    const emulator = await withEmulator();
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const raw = createConnection({
          host: '127.0.0.1',
          port: Number(new URL(emulator.url).port),
        });
        await once(raw, 'connect');
        const socket = connect({ socket: raw, rejectUnauthorized: false });
        await once(socket, 'secureConnect');
        // Refused (the pod does not exist): the apiserver answers on the raw socket.
        socket.write(
          'GET /api/v1/namespaces/default/pods/absent/exec?command=true&stdout=true HTTP/1.1\r\n' +
            'Host: emulator\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
        await once(socket, 'data');
        // A TCP reset, as from a client process that was killed.
        raw.resetAndDestroy();
      }
      const reply = await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods');
      assert.equal(reply.status, 200, 'the apiserver still answers');
    } finally {
      await emulator.verifyNoLeaks();
    }
  });
});
