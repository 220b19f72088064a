import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import {
  GatewayKernelRecords,
  maxNotebookKernelRecords,
  notebookKernelKey,
  notebookKernelsAnnotation,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type PodRecordApi,
} from '../../src/core/index.ts';
import { apiRequest, managedNames, requireTool } from '../support/emulatorFixture.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';

const available = jupyterServerAvailable();
const tool = "Debian's python3-ipykernel (the gateway pod's kernel)";
const podName = 'recording-gateway';
const analysis = 'file:///home/someone/project/analysis.ipynb';
const draft = 'file:///home/someone/project/draft.ipynb';

describe(`each notebook's kernel recorded on the gateway pod (${backendName})`, () => {
  let backend: TestBackend;
  const servers: PodJupyterServer[] = [];
  const gateway = async () => {
    const server = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 60,
      podName,
      autoRemove: false,
    });
    servers.push(server);
    await server.start();
    return server;
  };
  /** The annotation as the cluster stores it. */
  const annotation = async (): Promise<string | undefined> => {
    const pod = await apiRequest(backend, 'GET', `/api/v1/namespaces/default/pods/${podName}`);
    const metadata = (pod.body as { metadata: { annotations?: Record<string, string> } }).metadata;
    return metadata.annotations?.[notebookKernelsAnnotation];
  };

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
  });

  after(async () => {
    for (const server of servers) {
      await server.stop();
    }
    for (const resource of ['pods', 'secrets', 'services']) {
      assert.deepEqual(await managedNames(backend, resource, 'default'), [], `no ${resource}`);
    }
    await backend.verifyNoLeaks();
  });

  test('records are written under a hash of the notebook URI, read back, moved when another notebook claims the kernel, and forgotten', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const records = (await gateway()).notebookKernels;
    assert.deepEqual(await records.read(), {}, 'a new gateway records nothing');
    await records.record(notebookKernelKey(analysis), { kernelId: 'k-1', sessionId: 's-1' });
    await records.record(notebookKernelKey(draft), { kernelId: 'k-2', sessionId: 's-2' });
    assert.deepEqual(await records.read(), {
      [notebookKernelKey(analysis)]: { kernelId: 'k-1', sessionId: 's-1' },
      [notebookKernelKey(draft)]: { kernelId: 'k-2', sessionId: 's-2' },
    });
    const stored = await annotation();
    assert.ok(stored, 'the annotation is on the pod');
    assert.match(notebookKernelKey(analysis), /^[0-9a-f]{32}$/);
    assert.ok(
      !stored.includes('someone') && !stored.includes('.ipynb'),
      `no local path: ${stored}`,
    );

    await records.record(notebookKernelKey(draft), { kernelId: 'k-1', sessionId: 's-1' });
    assert.deepEqual(
      await records.read(),
      { [notebookKernelKey(draft)]: { kernelId: 'k-1', sessionId: 's-1' } },
      'two notebooks never share a kernel: the claim moved',
    );
    await records.record(notebookKernelKey(draft), undefined);
    assert.deepEqual(await records.read(), {});
    assert.equal(await annotation(), '{}');
  });

  test("the records stay under the API server's annotation limit: past the cap the oldest go", async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const records = (await gateway()).notebookKernels;
    const full = Object.fromEntries(
      Array.from({ length: maxNotebookKernelRecords }, (_, index) => [
        notebookKernelKey(`file:///notebook-${index}.ipynb`),
        { kernelId: `k-${index}`, sessionId: `s-${index}` },
      ]),
    );
    const patched = await apiRequest(
      backend,
      'PATCH',
      `/api/v1/namespaces/default/pods/${podName}`,
      {
        body: { metadata: { annotations: { [notebookKernelsAnnotation]: JSON.stringify(full) } } },
        contentType: 'application/merge-patch+json',
      },
    );
    assert.equal(patched.status, 200);
    await records.record(notebookKernelKey(analysis), { kernelId: 'k-new', sessionId: 's-new' });
    const kept = await records.read();
    assert.equal(Object.keys(kept).length, maxNotebookKernelRecords);
    assert.equal(kept[notebookKernelKey('file:///notebook-0.ipynb')], undefined, 'the oldest went');
    assert.ok(kept[notebookKernelKey('file:///notebook-1.ipynb')]);
    assert.deepEqual(kept[notebookKernelKey(analysis)], { kernelId: 'k-new', sessionId: 's-new' });
    assert.ok((await annotation())!.length < 200 * 1024, 'far under the 256 KiB limit');
    await apiRequest(backend, 'PATCH', `/api/v1/namespaces/default/pods/${podName}`, {
      body: { metadata: { annotations: { [notebookKernelsAnnotation]: '{}' } } },
      contentType: 'application/merge-patch+json',
    });
  });

  test('a write that races another one (409 on the stale resourceVersion) reads again and keeps both', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const server = await gateway();
    await server.notebookKernels.record(notebookKernelKey(analysis), undefined);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(backend.kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const patches: string[] = [];
    let raced = false;
    // The other writer commits between this writer's read and its patch.
    const racing: PodRecordApi = {
      readNamespacedPod: async (request) => {
        const pod = await core.readNamespacedPod(request);
        if (!raced) {
          raced = true;
          await server.notebookKernels.record(notebookKernelKey(draft), {
            kernelId: 'k-draft',
            sessionId: 's-draft',
          });
        }
        return pod;
      },
      patchNamespacedPod: async (request, options) => {
        try {
          const patched = await core.patchNamespacedPod(request, options);
          patches.push('applied');
          return patched;
        } catch (error) {
          patches.push(String((error as { code?: number }).code));
          throw error;
        }
      },
    };
    await new GatewayKernelRecords(racing, 'default', podName).record(notebookKernelKey(analysis), {
      kernelId: 'k-analysis',
      sessionId: 's-analysis',
    });
    assert.deepEqual(patches, ['409', 'applied'], 'refused on the stale version, then applied');
    assert.deepEqual(await server.notebookKernels.read(), {
      [notebookKernelKey(draft)]: { kernelId: 'k-draft', sessionId: 's-draft' },
      [notebookKernelKey(analysis)]: { kernelId: 'k-analysis', sessionId: 's-analysis' },
    });
    await server.notebookKernels.record(notebookKernelKey(draft), undefined);
    await server.notebookKernels.record(notebookKernelKey(analysis), undefined);
  });

  test('a server that adopts the kept gateway finds a notebook its kernel from the pod alone, variables intact', async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const first = await gateway();
    const notebook = new PodJupyterCodeExecutor(first, { timeout: 20 });
    const other = new PodJupyterCodeExecutor(first, { timeout: 20 });
    await notebook.start();
    await other.start();
    const ran = await notebook.executeCodeBlocks([{ language: 'python', code: 'x = 41' }]);
    assert.equal(ran.exitCode, 0, ran.output);
    for (const [uri, executor] of [
      [analysis, notebook],
      [draft, other],
    ] as const) {
      await first.notebookKernels.record(notebookKernelKey(uri), {
        kernelId: executor.kernelId!,
        sessionId: executor.sessionId!,
      });
    }
    const kernelId = notebook.kernelId;
    await notebook.detach();
    await other.stop();
    await first[Symbol.asyncDispose]();

    // Another window, with no record of its own: the pod's names the notebook's kernel.
    const again = await gateway();
    const recorded = (await again.notebookKernels.read())[notebookKernelKey(analysis)];
    assert.equal(recorded?.kernelId, kernelId);
    const reattached = new PodJupyterCodeExecutor(again, { timeout: 20, ...recorded });
    await reattached.start();
    try {
      const result = await reattached.executeCodeBlocks([
        { language: 'python', code: 'print(x + 1)' },
      ]);
      assert.deepEqual(result, { exitCode: 0, output: '42\n', outputFiles: [] });
    } finally {
      await reattached.stop();
    }
  });
});
