import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { PermissionDeniedError, PodRunnerError } from '../../src/core/index.ts';
import { openKubernetesWebSocket } from '../../src/core/kubernetesWebSocket.ts';

class TestConnectionError extends PodRunnerError {}

const servers: Server[] = [];
after(() => Promise.all(servers.map((server) => new Promise((r) => server.close(r)))));

/** A TCP server that hands every connection and its first request bytes to `onRequest`. */
async function rawServer(onRequest: (socket: Socket, head: string) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.once('data', (data) => onRequest(socket, data.toString('latin1')));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function kubeConfigFor(port: number): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'not-a-real-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kubeConfig;
}

const request = (port: number, extra: { signal?: AbortSignal; handshakeTimeoutMs?: number }) =>
  openKubernetesWebSocket({
    kubeConfig: kubeConfigFor(port),
    path: '/api/v1/namespaces/default/pods/p/exec?command=true',
    protocols: ['v5.channel.k8s.io'],
    action: 'exec in pod p',
    connectionError: (detail) => new TestConnectionError(detail),
    ...extra,
  });

test('a server that accepts TCP but never answers the upgrade fails after the handshake timeout, and the socket is destroyed', async () => {
  const accepted: Socket[] = [];
  const port = await rawServer((socket) => accepted.push(socket));
  await assert.rejects(
    request(port, { handshakeTimeoutMs: 300 }),
    (error: Error) =>
      error instanceof TestConnectionError &&
      /did not answer the WebSocket upgrade within 0.3 s/.test(error.message),
  );
  assert.equal(accepted.length, 1);
  const serverSide = accepted[0]!;
  if (!serverSide.closed) {
    await once(serverSide, 'close');
  }
});

test('aborting while the upgrade is pending rejects with the reason at once and destroys the socket', async () => {
  const accepted: Socket[] = [];
  const controller = new AbortController();
  const port = await rawServer((socket) => {
    accepted.push(socket);
    controller.abort(new Error('cancelled by the caller'));
  });
  await assert.rejects(request(port, { signal: controller.signal }), /cancelled by the caller/);
  const serverSide = accepted[0]!;
  if (!serverSide.closed) {
    await once(serverSide, 'close');
  }
});

test('an error response becomes the typed API error its Status describes', async () => {
  const status = JSON.stringify({
    kind: 'Status',
    status: 'Failure',
    reason: 'Forbidden',
    code: 403,
    message:
      'pods "p" is forbidden: User "u" cannot create resource "pods/exec" in API group "" in the namespace "default"',
  });
  const port = await rawServer((socket) =>
    socket.end(
      `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${status.length}\r\nConnection: close\r\n\r\n${status}`,
    ),
  );
  await assert.rejects(
    request(port, {}),
    (error: Error) =>
      error instanceof PermissionDeniedError &&
      /exec in pod p: the Kubernetes user may not create pods\/exec in namespace default/.test(
        error.message,
      ),
  );
});

test(
  'the socket is handed over paused: a frame sent with the upgrade answer is not lost',
  { timeout: 10_000 },
  async () => {
    const port = await rawServer((socket, head) => {
      const key = /sec-websocket-key: (\S+)/i.exec(head)?.[1] ?? '';
      const accept = createHash('sha1')
        .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
        .digest('base64');
      const payload = Buffer.from([1, ...Buffer.from('early')]);
      const frame = Buffer.concat([Buffer.from([0x82, payload.length]), payload]);
      // One write: the first frame arrives in the same read as the 101 response.
      socket.write(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n`,
          ),
          frame,
        ]),
      );
    });
    const socket = await request(port, {});
    // The caller may attach its listeners after a few turns of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    const received = once(socket, 'message');
    socket.resume();
    const [data] = (await received) as [Buffer];
    assert.equal(data.subarray(1).toString(), 'early');
    assert.equal(socket.protocol, 'v5.channel.k8s.io');
    socket.terminate();
  },
);
