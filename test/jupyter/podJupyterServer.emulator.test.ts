import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  JupyterAuthError,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  PodStartError,
  reapOrphanedPods,
} from '../../src/core/index.ts';
import { apiRequest, eventually, managedNames, requireTool } from '../support/emulatorFixture.ts';
import {
  backendName,
  emulatorOf,
  emulatorOnly,
  withBackend,
  type TestBackend,
} from '../support/backend.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';
import { scratchDir } from '../support/scratch.ts';

const available = jupyterServerAvailable();
function names(backend: TestBackend, resource: string): Promise<string[]> {
  return managedNames(backend, resource, 'default');
}

describe(`PodJupyterServer on ${backendName}: gateway pod, port-forward, kernel`, () => {
  let backend: TestBackend;
  let server: PodJupyterServer;
  let executor: PodJupyterCodeExecutor;

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
    if (!available) {
      return;
    }
    server = new PodJupyterServer({ kubeconfig: backend.kubeconfigPath, startupTimeout: 60 });
    await server.start();
    executor = new PodJupyterCodeExecutor(server, { timeout: 20 });
    await executor.start();
  });

  after(async () => {
    await executor?.stop();
    await server?.stop();
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(await names(backend, resource), [], `no ${resource} of ours remain`);
    }
    await backend.verifyNoLeaks();
  });

  test('creates a Secret and a Pod that match (the pod references the Secret actually created); reached by port-forward, no Service', async (t) => {
    if (!requireTool(t, available, "Debian's python3-ipykernel (the gateway pod's kernel)")) {
      return;
    }
    assert.deepEqual(await names(backend, 'secrets'), [`${server.podName}-secret`]);
    assert.deepEqual(await names(backend, 'services'), [], "the default access is 'portForward'");
    const pod = (
      await apiRequest(backend, 'GET', `/api/v1/namespaces/default/pods/${server.podName}`)
    ).body as {
      spec: {
        containers: {
          name: string;
          env: { name: string; value: string }[];
          envFrom: { secretRef: { name: string } }[];
          ports: { name: string; containerPort: number }[];
        }[];
      };
    };
    const container = pod.spec.containers[0]!;
    assert.equal(container.name, 'autogen-executor');
    assert.deepEqual(container.envFrom, [{ secretRef: { name: `${server.podName}-secret` } }]);
    assert.deepEqual(
      container.env.map((e) => `${e.name}=${e.value}`),
      ['KG_PORT=8888', 'KG_IP=127.0.0.1', 'KG_LIST_KERNELS=True'],
    );
    assert.deepEqual(container.ports, [{ name: 'jupyter', containerPort: 8888, protocol: 'TCP' }]);
    assert.throws(() => server.connectionInfo, /no in-cluster address/);
    assert.match((await server.connect()).token ?? '', /^[0-9a-f]{64}$/);
  });

  test('connect() forwards one stable port on 127.0.0.1; the gateway answers 401 to a bad token and lists kernels', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const first = await server.connect();
    const second = await server.connect();
    assert.equal(first.host, '127.0.0.1');
    assert.equal(first.port, second.port);
    const bad = await fetch(`http://127.0.0.1:${first.port}/api/kernels`, {
      headers: { Authorization: 'token wrong' },
    });
    assert.equal(bad.status, 401);
    const listed = await fetch(`http://127.0.0.1:${first.port}/api/kernels`, {
      headers: { Authorization: `token ${first.token ?? ''}` },
    });
    assert.equal(listed.status, 200);
    assert.ok(
      ((await listed.json()) as { id: string }[]).some((kernel) => kernel.id === executor.kernelId),
    );
    const wrong = new PodJupyterCodeExecutor({ ...first, token: 'wrong' }, { timeout: 5 });
    await assert.rejects(
      wrong.start(),
      (error: JupyterAuthError) =>
        error instanceof JupyterAuthError && /HTTP 401/.test(error.message),
    );
  });

  test('the kernel runs in the pod: state persists, a plot shows inline without a magic, errors are reported', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    await executor.executeCodeBlocks([
      { language: 'python', code: 'import socket\nwhere = socket.gethostname()' },
    ]);
    assert.equal(
      (await executor.executeCodeBlocks([{ language: 'python', code: 'print(where)' }])).output,
      `${server.podName}\n`,
    );
    const environment = await executor.executeCodeBlocks([
      {
        language: 'python',
        code: 'import os\nprint("KG_AUTH_TOKEN" in os.environ, os.environ.get("KERNEL_GATEWAY"))',
      },
    ]);
    assert.equal(
      environment.output,
      'False 1\n',
      "the gateway keeps its token from the kernel's environment",
    );
    const plot = await executor.executeCodeBlocks([
      {
        language: 'python',
        // No magic and no show(): the kernel's default backend draws the figure inline.
        code: 'import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])',
      },
    ]);
    assert.equal(plot.exitCode, 0, plot.output);
    assert.equal(plot.outputFiles.length, 1, plot.output);
    assert.equal(readFileSync(plot.outputFiles[0]!).subarray(1, 4).toString(), 'PNG');
    const failed = await executor.executeCodeBlocks([
      { language: 'python', code: 'undefined_name' },
    ]);
    assert.equal(failed.exitCode, 1);
    assert.match(failed.output, /^ERROR: NameError: name 'undefined_name' is not defined/);
  });

  test(
    'a port-forward dropped mid-cell (fault injection) is recovered without losing the cell',
    {
      skip: emulatorOnly('drops the port-forward by fault injection'),
    },
    async (t) => {
      if (!requireTool(t, available, 'Jupyter Server')) {
        return;
      }
      assert.equal(
        (await executor.executeCodeBlocks([{ language: 'python', code: 'total = 1' }])).exitCode,
        0,
      );
      // The drop lands while the cell runs: right after its first output reached the client.
      let dropped = 0;
      const result = await executor.executeCodeBlocks(
        [
          {
            language: 'python',
            code: 'import time\nprint("started", flush=True)\ntime.sleep(1.5)\ntotal += 1\nprint(total)',
          },
        ],
        {
          onOutput: (event) => {
            if (event.type === 'stream' && dropped === 0) {
              dropped = emulatorOf(backend).faults.dropConnections('default', server.podName);
            }
          },
        },
      );
      assert.ok(dropped >= 1, 'the port-forward was dropped mid-cell');
      assert.equal(result.output, 'started\n2\n');
    },
  );

  test(
    'a port-forward dropped between cells: the next cell reconnects and keeps the state',
    {
      skip: emulatorOnly('drops the port-forward by fault injection'),
    },
    async (t) => {
      if (!requireTool(t, available, 'Jupyter Server')) {
        return;
      }
      await executor.executeCodeBlocks([{ language: 'python', code: 'kept = 41' }]);
      assert.ok(emulatorOf(backend).faults.dropConnections('default', server.podName) >= 1);
      const result = await executor.executeCodeBlocks([
        { language: 'python', code: 'print(kept + 1)' },
      ]);
      assert.equal(result.output, '42\n');
    },
  );

  test('a timeout interrupts the kernel in the pod; the next block works', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const quick = new PodJupyterCodeExecutor(server, { timeout: 2 });
    await quick.start();
    try {
      const result = await quick.executeCodeBlocks([
        { language: 'python', code: 'import time\ntime.sleep(30)' },
      ]);
      assert.equal(result.exitCode, 124);
      assert.equal(
        (await quick.executeCodeBlocks([{ language: 'python', code: 'print("alive")' }])).output,
        'alive\n',
      );
    } finally {
      await quick.stop();
    }
  });

  test('a custom secretSpec under another name is the one the pod uses; an unpullable image cleans everything up', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const custom = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      podName: 'custom-gateway',
      secretSpec:
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-own-token\nstringData:\n  KG_AUTH_TOKEN: fixed-token-value\n',
      startupTimeout: 60,
    });
    await custom.start();
    try {
      const info = await custom.connect();
      assert.equal(info.token, 'fixed-token-value');
      const kernel = new PodJupyterCodeExecutor(custom, { timeout: 20 });
      await kernel.start();
      assert.equal(
        (await kernel.executeCodeBlocks([{ language: 'python', code: 'print(6*7)' }])).output,
        '42\n',
      );
      await kernel.stop();
    } finally {
      await custom.stop();
    }
    const broken = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      podName: 'broken-gateway',
      image: 'invalid.example/gateway:1',
    });
    await assert.rejects(broken.start(), PodStartError);
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.ok(
        !(await names(backend, resource)).some((name) => name.startsWith('broken-gateway')),
        `${resource} cleaned up`,
      );
    }
  });

  test('pod, service and secret specs from one multi-document file, with a camelCase volume', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const file = join(scratchDir('pod-runner-specs-'), 'gateway.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1\nkind: Secret\nmetadata: {name: file-token}\nstringData: {KG_AUTH_TOKEN: from-the-file}',
        'apiVersion: v1\nkind: Service\nmetadata: {name: file-gateway-svc, labels: {team: a}}\nspec: {type: ClusterIP}',
        'apiVersion: v1\nkind: Pod\nmetadata: {name: file-gateway, labels: {team: a}}\nspec:\n  containers:\n  - name: autogen-executor\n    image: quay.io/jupyter/docker-stacks-foundation:2025-01-01\n    command: ["/bin/bash", "-c", "exec python -m jupyter kernelgateway"]',
      ].join('\n---\n'),
    );
    const fromFile = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      podName: 'file-gateway',
      access: 'inCluster',
      podSpec: file,
      serviceSpec: file,
      secretSpec: file,
      volume: { name: 'work', emptyDir: { sizeLimit: '1Gi' } },
      startupTimeout: 60,
    });
    await fromFile.start();
    try {
      assert.equal(fromFile.connectionInfo.host, 'file-gateway-svc.default.svc.cluster.local');
      assert.equal(fromFile.connectionInfo.token, 'from-the-file');
      const kernel = new PodJupyterCodeExecutor(fromFile, { timeout: 20 });
      await kernel.start();
      const result = await kernel.executeCodeBlocks([
        { language: 'python', code: 'import os\nprint(os.path.ismount("/workspace"))' },
      ]);
      assert.equal(
        result.output,
        'True\n',
        "the volume is mounted at the workspace in the user's container",
      );
      await kernel.stop();
      await kernel.start();
      assert.equal(
        (await kernel.executeCodeBlocks([{ language: 'python', code: 'print("restarted")' }]))
          .output,
        'restarted\n',
        'stop() then start() works',
      );
      await kernel.stop();
    } finally {
      await fromFile.stop();
    }
  });

  test('the gateway pod deleted under a running cell gives a clear error, not a hang', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const doomed = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      podName: 'doomed-gateway',
      startupTimeout: 60,
    });
    await doomed.start();
    const kernel = new PodJupyterCodeExecutor(doomed, { timeout: 30 });
    await kernel.start();
    try {
      const running = kernel.executeCodeBlocks([
        { language: 'python', code: 'import time\ntime.sleep(20)' },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await apiRequest(
        backend,
        'DELETE',
        '/api/v1/namespaces/default/pods/doomed-gateway?gracePeriodSeconds=0',
      );
      const started = Date.now();
      await assert.rejects(running, /kernel|connect|refused|reset|closed/i);
      assert.ok(Date.now() - started < 15_000, 'fails well before the cell would have finished');
    } finally {
      await kernel.stop().catch(() => undefined);
      await doomed.stop();
    }
  });

  test("a crashed client's gateway: the reap function removes its pod, Secret and Service", async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const core = require.resolve('../../src/core/index.ts');
    const script = `const { PodJupyterServer } = require(${JSON.stringify(core)}); new PodJupyterServer({ kubeconfig: process.argv[1], podName: 'crashed-gateway', access: 'inCluster', startupTimeout: 60 }).start().then(() => { process.stdout.write('started'); setInterval(() => {}, 1000); });`;
    const client = spawn(
      process.execPath,
      ['--import', 'tsx', '-e', script, backend.kubeconfigPath],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((done) => client.once('exit', done));
    await new Promise<void>((started) => client.stdout.once('data', () => started()));
    client.kill('SIGKILL');
    await exited;
    const ours = (list: string[]) => list.filter((name) => name.startsWith('crashed-gateway'));
    assert.deepEqual(ours(await names(backend, 'pods')), ['crashed-gateway']);
    assert.deepEqual(ours(await names(backend, 'secrets')), ['crashed-gateway-secret']);
    assert.deepEqual(ours(await names(backend, 'services')), ['crashed-gateway']);

    const reaped = await reapOrphanedPods({
      kubeconfig: backend.kubeconfigPath,
      keep: [server.podName],
    });
    assert.deepEqual(reaped, ['crashed-gateway']);
    assert.deepEqual(ours(await names(backend, 'secrets')), [], 'its Secret went with it');
    assert.deepEqual(ours(await names(backend, 'services')), [], 'its Service went with it');
    assert.ok((await names(backend, 'pods')).includes(server.podName), 'the live one is kept');
    assert.ok((await names(backend, 'secrets')).includes(`${server.podName}-secret`));
    await eventually(
      async () => ours(await names(backend, 'pods')).length === 0,
      20_000,
      'the pod to go',
    );
  });
});
