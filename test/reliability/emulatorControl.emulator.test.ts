import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  emulatorControlVariable,
  serveEmulatorControl,
  takeApiServerDownFor,
  type EmulatorControlServer,
} from '../support/emulatorControl.ts';
import { apiRequest, eventually, withEmulator } from '../support/emulatorFixture.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

describe('the emulator control another process takes the API server down with', () => {
  let emulator: Emulator;
  let control: EmulatorControlServer | undefined;

  const serve = async () => {
    control = await serveEmulatorControl(emulator.faults);
    process.env[emulatorControlVariable] = control.address;
  };
  const apiServes = async () =>
    (await apiRequest(emulator, 'GET', '/api/v1/namespaces/default')).status === 200;
  /** A new connection to the API server's port is refused (a pooled one may only be cut). */
  const connectionRefused = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(Number(new URL(emulator.url).port), '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) =>
        resolve(error.code === 'ECONNREFUSED'),
      );
    });
  const configMap = '/api/v1/namespaces/default/configmaps/kept-across-the-outage';

  before(async () => {
    emulator = await withEmulator();
  });

  afterEach(async () => {
    await control?.close();
    control = undefined;
    delete process.env[emulatorControlVariable];
    await apiRequest(emulator, 'DELETE', configMap);
  });

  after(async () => {
    await emulator.verifyNoLeaks();
  });

  test('a request without its token, or without a duration, is refused and changes nothing', async () => {
    await serve();
    const { url, token } = JSON.parse(control!.address) as { url: string; token: string };
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const post = (path: string, authorization?: string) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: authorization ? { authorization } : {},
      });
    assert.equal((await post('/outage?seconds=5')).status, 401);
    assert.equal((await post('/outage?seconds=5', `Bearer ${token}x`)).status, 401);
    assert.equal((await post('/outage', `Bearer ${token}`)).status, 400);
    assert.equal((await post('/outage?seconds=-1', `Bearer ${token}`)).status, 400);
    assert.equal((await post('/restart?seconds=5', `Bearer ${token}`)).status, 404);
    assert.equal(await connectionRefused(), false);
    assert.equal(await apiServes(), true);
  });

  test('an outage refuses connections for its seconds, refuses a second outage, then serves the same state again', async () => {
    await serve();
    const created = await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/configmaps', {
      body: { metadata: { name: 'kept-across-the-outage' }, data: { answer: '42' } },
    });
    assert.equal(created.status, 201);
    await takeApiServerDownFor(5);
    assert.equal(await connectionRefused(), true);
    await assert.rejects(takeApiServerDownFor(5), /already down/);
    await eventually(apiServes, 30_000, 'the API server to serve again');
    const kept = (await apiRequest(emulator, 'GET', configMap)).body as {
      data: Record<string, string>;
    };
    assert.deepEqual(kept.data, { answer: '42' });
  });

  test('closing the control ends an outage still in progress', async () => {
    await serve();
    await takeApiServerDownFor(600);
    assert.equal(await connectionRefused(), true);
    await control!.close();
    control = undefined;
    assert.equal(await apiServes(), true);
  });

  test('without the variable there is no control to call', async () => {
    await assert.rejects(takeApiServerDownFor(5), new RegExp(emulatorControlVariable));
  });
});
