import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Exec, Log } from '@kubernetes/client-node';
import { eventually, execFileAsync, withEmulator } from '../support/emulatorFixture.ts';
import { PodClient, textSink } from '../support/podHelpers.ts';

describe('emulator pods are sandboxed processes', () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let pods: PodClient;

  before(async () => {
    emulator = await withEmulator();
    pods = new PodClient(emulator);
    const keepAlive = 'trap "exit 0" TERM; while true; do sleep 0.2; done';
    const workspace = {
      containers: [
        {
          name: 'main',
          image: 'python:3-slim',
          command: ['sh', '-c', keepAlive],
          workingDir: '/workspace',
        },
      ],
    };
    await Promise.all([
      pods.run('left', keepAlive, { spec: workspace }),
      pods.run('right', keepAlive, { spec: workspace }),
    ]);
  });

  after(async () => {
    await Promise.all([pods.delete('left'), pods.delete('right')]);
    await Promise.all([pods.waitGone('left'), pods.waitGone('right')]);
    await emulator.verifyNoLeaks();
  });

  test("a file written in one pod's /workspace and /tmp is invisible to another", async () => {
    const written = await pods.exec('left', [
      'sh',
      '-c',
      'pwd; echo secret > /workspace/data.txt; echo tmp > /tmp/t; cat data.txt',
    ]);
    assert.equal(written.stdout, '/workspace\nsecret\n');
    const other = await pods.exec('right', ['sh', '-c', 'ls -A /workspace; ls -A /tmp; echo end']);
    assert.equal(other.stdout, 'end\n');
  });

  test("each pod has its own hostname, PID namespace (command is PID 1) and writable root, as an image's", async () => {
    const result = await pods.exec('left', [
      'sh',
      '-c',
      'hostname; cat /proc/1/cmdline | tr "\\0" " "; echo; for f in /usr/lib/pod-mark /etc/pod-mark /opt/pod-mark; do echo left > $f && cat $f; done; echo local >> /etc/hosts && tail -n 1 /etc/hosts',
    ]);
    assert.deepEqual(result.stdout.split('\n'), [
      'left',
      result.stdout.split('\n')[1],
      'left',
      'left',
      'left',
      'local',
      '',
    ]);
    assert.match(result.stdout.split('\n')[1]!, /^sh -c trap "exit 0" TERM/);
    // The writes are the container's own: the other pod and the host do not see them.
    const other = await pods.exec('right', [
      'sh',
      '-c',
      'ls /usr/lib/pod-mark /etc/pod-mark /opt/pod-mark 2>&1 | wc -l; grep -c "^local$" /etc/hosts || true',
    ]);
    assert.equal(other.stdout, '3\n0\n');
    for (const path of ['/usr/lib/pod-mark', '/etc/pod-mark', '/opt/pod-mark']) {
      assert.equal(existsSync(path), false, `${path} stays in the container`);
    }
    // The host's own files still read through (a real image has them too).
    const resolver = await pods.exec('left', ['sh', '-c', 'test -s /usr/bin/python3 && echo ok']);
    assert.equal(resolver.stdout, 'ok\n');
  });

  test('two pods listen on the same port in their own network namespaces', async () => {
    const serve = (name: string) =>
      pods.exec(name, [
        'sh',
        '-c',
        `cd /tmp && echo ${name} > who && (python -m http.server 8888 --bind 127.0.0.1 >/dev/null 2>&1 &) ; sleep 0.1; echo started`,
      ]);
    assert.equal((await serve('left')).stdout, 'started\n');
    assert.equal((await serve('right')).stdout, 'started\n');
    const fetchWho = (name: string) =>
      eventually(
        async () => {
          const r = await pods.exec(name, [
            'python',
            '-c',
            'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8888/who").read().decode(), end="")',
          ]);
          return r.status.status === 'Success' ? r.stdout : undefined;
        },
        10_000,
        `http server in ${name}`,
      );
    assert.equal(await fetchWho('left'), 'left\n');
    assert.equal(await fetchWho('right'), 'right\n');
  });

  test('a pod has eth0 with its podIP and reaches the network: pip installs into its container alone', async () => {
    const podIP = (await pods.read('left')).status?.podIP ?? '';
    const source = await pods.exec('left', [
      'python',
      '-c',
      'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("192.0.2.1", 53)); print(s.getsockname()[0])',
    ]);
    assert.equal(source.stdout, `${podIP}\n`, 'traffic leaves from the pod IP');
    assert.notEqual(podIP, (await pods.read('right')).status?.podIP);
    // From PyPI, as in a pod of the official image: root installs into /usr/local.
    const install = await pods.exec('left', [
      'python',
      '-m',
      'pip',
      'install',
      '--no-cache-dir',
      '--quiet',
      '--root-user-action=ignore',
      'iniconfig==2.0.0',
    ]);
    assert.equal(install.status.status, 'Success', install.stderr);
    const imported = 'import iniconfig; print(iniconfig.__file__)';
    assert.match(
      (await pods.exec('left', ['python', '-c', imported])).stdout,
      /^\/usr\/local\/lib\/python3\.\d+\/dist-packages\/iniconfig\/__init__\.py\n$/,
    );
    const elsewhere = await pods.exec('right', ['python', '-c', imported]);
    assert.match(elsewhere.stderr, /No module named 'iniconfig'/);
  });

  test('pods reach each other by pod IP and see each other by it (no masquerade between pods)', async () => {
    const [leftIP, rightIP] = await Promise.all(
      ['left', 'right'].map(async (name) => (await pods.read(name)).status?.podIP ?? ''),
    );
    const server =
      'import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 9099)); s.listen(); c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()';
    await pods.exec('right', [
      'sh',
      '-c',
      `(python -c '${server}' >/dev/null 2>&1 &); echo started`,
    ]);
    const client = `import socket; c = socket.create_connection(("${rightIP}", 9099), timeout=5); print(c.recv(100).decode())`;
    const seen = await eventually(
      async () => {
        const result = await pods.exec('left', ['python', '-c', client]);
        return result.status.status === 'Success' ? result.stdout : undefined;
      },
      10_000,
      'a connection from left to right',
    );
    assert.equal(seen, `${leftIP}\n`);
  });

  test('a deleted pod leaves no veth, route or iptables rule on the host', async () => {
    await pods.run('brief', 'sleep 60');
    const podIP = (await pods.read('brief')).status?.podIP ?? '';
    assert.match(podIP, /^100\.\d+\.\d+\.\d+$/);
    const hostState = async () => {
      const [routes, nat] = await Promise.all([
        execFileAsync('ip', ['route', 'show', `${podIP}/32`]),
        execFileAsync('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING']),
      ]);
      return `${routes.stdout}${nat.stdout
        .split('\n')
        .filter((rule) => rule.includes(`${podIP}/32`))
        .join('\n')}`;
    };
    assert.match(await hostState(), /dev prv/, 'the route to the pod while it runs');
    await pods.delete('brief', 'default', 0);
    await pods.waitGone('brief');
    // As on a node, the kubelet tears the sandbox down after the API object is gone.
    await eventually(
      async () => (await hostState()) === '',
      10_000,
      'nothing of its network left',
    ).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}: ${await hostState()}`);
    });
  });

  test('a process started by exec survives the exec WebSocket closing', async () => {
    const stdout = textSink();
    const socket = await new Exec(pods.config).exec(
      'default',
      'left',
      'main',
      ['sh', '-c', 'echo started; sleep 1; echo finished > /workspace/survivor'],
      stdout,
      null,
      null,
      false,
    );
    await eventually(
      () => (stdout.text() === 'started\n' ? true : undefined),
      5_000,
      'exec output',
    );
    socket.close();
    const marker = await eventually(
      async () => {
        const r = await pods.exec('left', ['cat', '/workspace/survivor']);
        return r.status.status === 'Success' ? r.stdout : undefined;
      },
      10_000,
      'the detached process to finish',
    );
    assert.equal(marker, 'finished\n');
  });

  test('exec with a TTY allocates a terminal and applies resizes', async () => {
    const stdin = new PassThrough();
    const stdout = Object.assign(textSink(), { columns: 123, rows: 45 });
    const status = new Promise((resolve, reject) => {
      new Exec(pods.config)
        .exec(
          'default',
          'left',
          'main',
          ['sh', '-c', 'sleep 0.5; stty size; tty'],
          stdout,
          null,
          stdin,
          true,
          resolve,
        )
        .catch(reject);
    });
    await status;
    const lines = stdout.text().split(/\r?\n/);
    assert.equal(lines[0], '45 123');
    assert.match(lines[1]!, /^\/dev\/pts\/\d+$/);
  });

  test('deletion sends SIGTERM to PID 1, and a TERM-ignoring keep-alive waits out the grace period', async () => {
    await pods.run('polite', 'trap "echo got TERM; exit 0" TERM; while true; do sleep 0.1; done', {
      grace: 30,
    });
    const log = textSink();
    const follow = await new Log(pods.config).log('default', 'polite', 'main', log, {
      follow: true,
    });
    const politeStart = Date.now();
    await pods.delete('polite');
    await pods.waitGone('polite');
    follow.abort();
    assert.equal(log.text(), 'got TERM\n');
    assert.ok(Date.now() - politeStart < 10_000);

    await pods.run('stubborn', 'while true; do sleep 0.1; done', { grace: 2 });
    const stubbornStart = Date.now();
    await pods.delete('stubborn');
    const marked = await pods.read('stubborn');
    assert.ok(
      marked.metadata?.deletionTimestamp,
      'the pod stays, marked for deletion, during its grace period',
    );
    assert.equal(marked.metadata?.deletionGracePeriodSeconds, 2);
    await pods.waitGone('stubborn');
    const took = Date.now() - stubbornStart;
    assert.ok(
      took >= 1900 && took < 12_000,
      `deletion took ${took} ms; PID 1 without a TERM handler ignores TERM until SIGKILL`,
    );
  });

  test('env, envFrom and secretKeyRef are resolved; a missing secret is CreateContainerConfigError until it exists', async () => {
    await pods.core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'settings' }, data: { MODE: 'fast', LEVEL: '3' } },
    });
    await pods.create({
      metadata: { name: 'configured' },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: [
              'sh',
              '-c',
              'echo "$GREETING $CFG_MODE $CFG_LEVEL $TOKEN $POD"; trap "exit 0" TERM; while true; do sleep 0.2; done',
            ],
            env: [
              { name: 'GREETING', value: 'hi' },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'later', key: 'token' } } },
              { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
            envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
          },
        ],
      },
    });
    const blocked = await pods.waitFor(
      'configured',
      (p) =>
        p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError',
      'config error',
    );
    assert.equal(
      blocked.status?.containerStatuses?.[0]?.state?.waiting?.message,
      'secret "later" not found',
    );
    assert.equal(blocked.status?.phase, 'Pending');
    await pods.core.createNamespacedSecret({
      namespace: 'default',
      body: { metadata: { name: 'later' }, stringData: { token: 's3cr3t' } },
    });
    await pods.waitReady('configured');
    const log = textSink();
    await new Log(pods.config).log('default', 'configured', 'main', log, {});
    await eventually(() => (log.text() ? true : undefined), 5_000, 'log');
    assert.equal(log.text(), 'hi fast 3 s3cr3t configured\n');
    await pods.delete('configured');
    await pods.waitGone('configured');
  });
});
