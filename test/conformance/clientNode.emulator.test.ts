import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CoreV1Api,
  Exec,
  KubeConfig,
  Log,
  PortForward,
  Watch,
  type V1Pod,
  type V1Status,
} from '@kubernetes/client-node';
import { eventually, withEmulator } from '../support/emulatorFixture.ts';
import { textSink } from '../support/podHelpers.ts';

describe('@kubernetes/client-node 1.4 against the emulator', () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let config: KubeConfig;
  let core: CoreV1Api;

  const startPod = async (name: string, command: string, extra: Partial<V1Pod['spec']> = {}) => {
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: 'python:3-slim', command: ['sh', '-c', command] }],
          ...extra,
        },
      },
    });
    await eventually(
      async () =>
        (await core.readNamespacedPod({ namespace: 'default', name })).status
          ?.containerStatuses?.[0]?.ready
          ? true
          : undefined,
      20_000,
      `${name} ready`,
    );
  };

  const run = (pod: string, command: string[], stdin: PassThrough | null = null) =>
    new Promise<{ stdout: string; stderr: string; status: V1Status }>((resolve, reject) => {
      const stdout = textSink();
      const stderr = textSink();
      new Exec(config)
        .exec('default', pod, 'main', command, stdout, stderr, stdin, false, (status) =>
          resolve({ stdout: stdout.text(), stderr: stderr.text(), status }),
        )
        .catch(reject);
    });

  before(async () => {
    emulator = await withEmulator();
    config = new KubeConfig();
    config.loadFromFile(emulator.kubeconfigPath);
    core = config.makeApiClient(CoreV1Api);
    await startPod(
      'client-node',
      'echo first line; echo second line; trap "exit 0" TERM; while true; do sleep 0.2; done',
    );
  });

  after(async () => {
    await core.deleteNamespacedPod({ namespace: 'default', name: 'client-node' });
    await emulator.verifyNoLeaks();
  });

  test('Exec over v5: stdin reaches the process and ends with the close frame; status on channel 3', async () => {
    const stdin = new PassThrough();
    const running = run(
      'client-node',
      ['python', '-c', 'import sys; data = sys.stdin.read(); print(len(data), data.upper())'],
      stdin,
    );
    stdin.write('hello ');
    stdin.end('world');
    const result = await running;
    assert.equal(result.stdout, '11 HELLO WORLD\n');
    assert.equal(result.status.status, 'Success');
  });

  test('Exec reports a non-zero exit code in the kubelet Status shape', async () => {
    const result = await run('client-node', ['sh', '-c', 'echo oops >&2; exit 42']);
    assert.equal(result.stderr, 'oops\n');
    assert.equal(result.status.status, 'Failure');
    assert.equal(result.status.reason, 'NonZeroExitCode');
    assert.deepEqual(result.status.details?.causes, [{ reason: 'ExitCode', message: '42' }]);
  });

  test('Exec keeps binary output byte for byte', async () => {
    const result = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const stdout = new Writable({
        write(chunk: Buffer, _e, callback) {
          chunks.push(chunk);
          callback();
        },
      });
      new Exec(config)
        .exec(
          'default',
          'client-node',
          'main',
          ['python', '-c', 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 3)'],
          stdout,
          null,
          null,
          false,
          () => resolve(Buffer.concat(chunks)),
        )
        .catch(reject);
    });
    assert.deepEqual(
      result,
      Buffer.concat([
        Buffer.from([...Array(256).keys()]),
        Buffer.from([...Array(256).keys()]),
        Buffer.from([...Array(256).keys()]),
      ]),
    );
  });

  test('PortForward reaches a server listening on loopback inside the pod', async () => {
    await startPod(
      'forward-target',
      'cd /tmp && echo forwarded > index.html && exec python -m http.server 9000 --bind 127.0.0.1',
      {
        containers: [
          {
            name: 'main',
            image: 'python:3-slim',
            command: [
              'sh',
              '-c',
              'cd /tmp && echo forwarded > index.html && exec python -m http.server 9000 --bind 127.0.0.1',
            ],
            // Bound to the pod's loopback, it is checked from inside: the kubelet's httpGet
            // dials the pod's IP, where nothing listens.
            readinessProbe: {
              exec: {
                command: [
                  'python',
                  '-c',
                  "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9000/')",
                ],
              },
              periodSeconds: 1,
            },
          },
        ],
      },
    );
    const forward = new PortForward(config);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      void forward.portForward('default', 'forward-target', [9000], socket, null, socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/index.html`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'forwarded\n');
    } finally {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await core.deleteNamespacedPod({ namespace: 'default', name: 'forward-target' });
    }
  });

  test('Watch sees ADDED, MODIFIED and DELETED with increasing resourceVersions, and resumes from one', async () => {
    const list = await core.listNamespacedPod({ namespace: 'default' });
    const from = list.metadata?.resourceVersion ?? '0';
    const seen: { type: string; phase: string | undefined; rv: number }[] = [];
    const watch = new Watch(config);
    const controller = await watch.watch(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: from, fieldSelector: 'metadata.name=watched' },
      (type: string, pod: V1Pod) =>
        seen.push({ type, phase: pod.status?.phase, rv: Number(pod.metadata?.resourceVersion) }),
      () => undefined,
    );
    try {
      await core.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: { name: 'watched' },
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'main', image: 'busybox', command: ['true'] }],
          },
        },
      });
      await eventually(
        () => (seen.some((e) => e.phase === 'Succeeded') ? true : undefined),
        15_000,
        'Succeeded via watch',
      );
      await core.deleteNamespacedPod({ namespace: 'default', name: 'watched' });
      await eventually(
        () => (seen.some((e) => e.type === 'DELETED') ? true : undefined),
        15_000,
        'DELETED via watch',
      );
    } finally {
      controller.abort();
    }
    assert.equal(seen[0]?.type, 'ADDED');
    assert.ok(seen.some((e) => e.type === 'MODIFIED'));
    assert.equal(seen.at(-1)?.type, 'DELETED');
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i]!.rv > seen[i - 1]!.rv, 'resourceVersions increase');
    }
    const replayed: string[] = [];
    const resumed = await new Watch(config).watch(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: String(seen[0].rv), fieldSelector: 'metadata.name=watched' },
      (type: string) => replayed.push(type),
      () => undefined,
    );
    try {
      await eventually(
        () => (replayed.includes('DELETED') ? true : undefined),
        5_000,
        'replayed events',
      );
    } finally {
      resumed.abort();
    }
    assert.equal(
      replayed.length,
      seen.length - 1,
      'a resumed watch replays exactly the events after its resourceVersion',
    );
  });

  test('Log reads, tails and follows a container log', async () => {
    const all = textSink();
    await new Log(config).log('default', 'client-node', 'main', all, {});
    await eventually(
      () => (all.text() === 'first line\nsecond line\n' ? true : undefined),
      5_000,
      'full log',
    );
    const tail = textSink();
    await new Log(config).log('default', 'client-node', 'main', tail, { tailLines: 1 });
    await eventually(() => (tail.text() === 'second line\n' ? true : undefined), 5_000, 'tail');

    await startPod('ticker', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done');
    const followed = textSink();
    const request = await new Log(config).log('default', 'ticker', 'main', followed, {
      follow: true,
    });
    try {
      await eventually(
        () => (/tick 5\n/.test(followed.text()) ? true : undefined),
        10_000,
        'followed log lines',
      );
    } finally {
      request.abort();
      await core.deleteNamespacedPod({ namespace: 'default', name: 'ticker' });
    }
  });
});
