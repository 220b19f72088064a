import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import {
  ExecutorStateError,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type PodJupyterServerOptions,
} from '../../src/core/index.ts';
import { PortForwarder } from '../../src/core/portForwarder.ts';
import { apiRequest, eventually, managedNames, requireTool } from '../support/emulatorFixture.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';
import { PodClient } from '../support/podHelpers.ts';

const available = jupyterServerAvailable();
const tool = "Debian's python3-ipykernel (the gateway pod's kernel)";

async function names(backend: TestBackend, resource: string, prefix = ''): Promise<string[]> {
  return (await managedNames(backend, resource, 'default')).filter((name) =>
    name.startsWith(prefix),
  );
}

/** The addresses the pod listens on for `port`, from its own /proc/net/tcp (hex address:port). */
async function listeners(pods: PodClient, pod: string, port: number): Promise<string[]> {
  const { stdout } = await pods.exec(pod, ['cat', '/proc/net/tcp'], {
    container: 'autogen-executor',
  });
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return stdout
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === '0A' && fields[1]?.endsWith(`:${hexPort}`))
    .map((fields) => fields[1]!.split(':')[0]!);
}

async function runCell(server: PodJupyterServer, code: string): Promise<string> {
  const kernel = new PodJupyterCodeExecutor(server, { timeout: 20 });
  await kernel.start();
  try {
    const result = await kernel.executeCodeBlocks([{ language: 'python', code }]);
    assert.equal(result.exitCode, 0, result.output);
    return result.output;
  } finally {
    await kernel.stop();
  }
}

describe(`the gateway: how it is reached, what it adopts, what stop() deletes (${backendName})`, () => {
  let backend: TestBackend;
  let pods: PodClient;
  const started: PodJupyterServer[] = [];
  const gateway = async (options: PodJupyterServerOptions) => {
    const server = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 60,
      ...options,
    });
    started.push(server);
    await server.start();
    return server;
  };

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
    pods = new PodClient(backend);
  });

  after(async () => {
    for (const server of started) {
      await server.stop();
    }
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(await names(backend, resource), [], `no ${resource} of ours remain`);
    }
    await backend.verifyNoLeaks();
  });

  test('reached by port-forward (the default): bound to the pod loopback, no Service', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const server = await gateway({ podName: 'loopback-gateway' });
    assert.deepEqual(await names(backend, 'services', 'loopback'), []);
    assert.deepEqual(await listeners(pods, server.podName, 8888), ['0100007F'], '127.0.0.1 only');
    assert.equal(await runCell(server, 'print(6 * 7)'), '42\n');
    assert.throws(() => server.connectionInfo, ExecutorStateError);
    await server.stop();
    assert.deepEqual(await names(backend, 'secrets', 'loopback'), []);
  });

  test("for in-cluster clients (the seed's mode): a Service, and every address of the pod", async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const server = await gateway({ podName: 'cluster-gateway', access: 'inCluster' });
    assert.deepEqual(await names(backend, 'services', 'cluster'), ['cluster-gateway']);
    assert.equal(server.connectionInfo.host, 'cluster-gateway.default.svc.cluster.local');
    assert.deepEqual(await listeners(pods, server.podName, 8888), ['00000000'], '0.0.0.0');
    assert.equal(await runCell(server, 'print(6 * 7)'), '42\n');
    await server.stop();
    assert.deepEqual(await names(backend, 'services', 'cluster'), []);
  });

  test('local connections closed before their port-forward WebSocket opens leave no WebSocket open', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const server = await gateway({ podName: 'forwarded-gateway' });
    // Each WebSocket's TCP connection waits until the test lets it go: the local connections
    // are closed first, at a point the test chooses.
    const held: (() => void)[] = [];
    const created: WebSocket[] = [];
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(backend.kubeconfigPath);
    const forwarder = new PortForwarder({
      kubeConfig,
      namespace: 'default',
      pod: server.podName,
      remotePort: 8888,
      webSocketFactory: (url, protocols, options) => {
        const createConnection = (
          connectOptions: ConnectionOptions,
          done: (error: Error | null, socket?: Socket) => void,
        ) => {
          held.push(() => done(null, tlsConnect({ ...connectOptions, servername: '' })));
          return undefined;
        };
        const socket = new WebSocket(url, protocols, {
          ...options,
          createConnection:
            createConnection as unknown as WebSocket.ClientOptions['createConnection'],
        });
        created.push(socket);
        return socket;
      },
    });
    const port = await forwarder.start();
    try {
      const clients = await Promise.all(
        Array.from(
          { length: 20 },
          () =>
            new Promise<Socket>((resolve, reject) => {
              const client = netConnect(port, '127.0.0.1', () => resolve(client));
              client.once('error', reject);
            }),
        ),
      );
      await eventually(() => created.length === 20, 10_000, 'a WebSocket for each connection');
      await Promise.all(
        clients.map(
          (client) =>
            new Promise((closed) => {
              client.once('close', closed);
              client.destroy();
            }),
        ),
      );
      for (const release of held.splice(0)) {
        release();
      }
      await eventually(
        () => created.every((socket) => socket.readyState === WebSocket.CLOSED),
        5_000,
        'every port-forward WebSocket to close',
      );
      const info = await server.connect();
      const answer = await fetch(`http://127.0.0.1:${port}/api/kernelspecs`, {
        headers: { Authorization: `token ${info.token ?? ''}` },
      });
      for (const release of held.splice(0)) {
        release();
      }
      assert.equal(answer.status, 200, 'the forwarder still works');
    } finally {
      for (const release of held.splice(0)) {
        release();
      }
      await forwarder.stop();
      await server.stop();
    }
  });

  test("the seed's sequence: autoRemove false, leave, start again on the same gateway, run a cell, stop() deletes", async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const options = { podName: 'kept-gateway', autoRemove: false, access: 'inCluster' } as const;
    const first = await gateway(options);
    assert.equal(await runCell(first, 'kept = 1\nprint(kept)'), '1\n');
    await first[Symbol.asyncDispose]();
    assert.deepEqual(await names(backend, 'pods', 'kept'), ['kept-gateway'], 'leaving keeps it');
    assert.deepEqual(await names(backend, 'secrets', 'kept'), ['kept-gateway-secret']);
    assert.deepEqual(await names(backend, 'services', 'kept'), ['kept-gateway']);

    const again = await gateway(options);
    assert.equal(
      await runCell(again, 'print("reused")'),
      'reused\n',
      "the adopted Secret's token is the one used",
    );
    await again.stop();
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(await names(backend, resource, 'kept'), [], `stop() deleted ${resource}`);
    }
  });

  test("objects of the same name that are not Pod Runner's are refused, and left alone", async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    await apiRequest(backend, 'POST', '/api/v1/namespaces/default/secrets', {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'foreign-gateway-secret' },
        stringData: { KG_AUTH_TOKEN: 'someone-elses' },
      },
    });
    try {
      await assert.rejects(
        gateway({ podName: 'foreign-gateway', autoRemove: false }),
        (error: Error) => {
          assert.ok(error instanceof ExecutorStateError, String(error));
          assert.equal(
            error.message,
            'secret default/foreign-gateway-secret already exists and was not created by Pod Runner for this gateway; choose another podName',
          );
          return true;
        },
      );
      const kept = await apiRequest(
        backend,
        'GET',
        '/api/v1/namespaces/default/secrets/foreign-gateway-secret',
      );
      assert.equal(kept.status, 200, 'the foreign Secret is not deleted');
      assert.deepEqual(await names(backend, 'pods', 'foreign'), [], 'no pod was created');
    } finally {
      await apiRequest(
        backend,
        'DELETE',
        '/api/v1/namespaces/default/secrets/foreign-gateway-secret',
      );
    }
  });

  test("a podSpec's metadata.name is the podName everywhere; a user's envFrom Secret is kept", async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    await apiRequest(backend, 'POST', '/api/v1/namespaces/default/secrets', {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'team-secret' },
        stringData: { TEAM_VALUE: 'from-the-team' },
      },
    });
    try {
      const server = await gateway({
        podSpec: {
          metadata: { name: 'renamed-gateway' },
          spec: {
            containers: [
              {
                name: 'autogen-executor',
                command: ['/bin/bash', '-c', 'exec python -m jupyter kernelgateway'],
                envFrom: [{ secretRef: { name: 'team-secret' } }],
              },
            ],
          },
        },
      });
      assert.equal(server.podName, 'renamed-gateway');
      assert.deepEqual(await names(backend, 'pods', 'renamed'), ['renamed-gateway']);
      assert.deepEqual(await names(backend, 'secrets', 'renamed'), ['renamed-gateway-secret']);
      assert.match(await server.readLogs(), /\S/, 'logs are read from the pod that exists');
      assert.equal(
        await runCell(server, 'import os\nprint(os.environ["TEAM_VALUE"])'),
        'from-the-team\n',
      );
      const pod = (
        await apiRequest(backend, 'GET', '/api/v1/namespaces/default/pods/renamed-gateway')
      ).body as { spec: { containers: { envFrom: unknown[] }[] } };
      assert.deepEqual(pod.spec.containers[0]!.envFrom, [
        { secretRef: { name: 'team-secret' } },
        { secretRef: { name: 'renamed-gateway-secret' } },
      ]);
      await server.stop();
    } finally {
      await apiRequest(backend, 'DELETE', '/api/v1/namespaces/default/secrets/team-secret');
    }
  });
});
