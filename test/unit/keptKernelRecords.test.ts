import '../support/useVscodeStub.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ExecutorStateError,
  KernelConnectionError,
  notebookKernelKey,
  type NotebookKernelRecord,
  type NotebookKernelRecords,
} from '../../src/core/index.ts';
import type { GatewayKernels } from '../../src/extension/gatewayKernels.ts';
import { KernelController } from '../../src/extension/kernelController.ts';
import { KeptPods } from '../../src/extension/keptPods.ts';

const notebook = 'file:///project/analysis.ipynb';
const logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

function keptPods(): KeptPods {
  const stored = new Map<string, unknown>();
  const memento = {
    get: (key: string) => stored.get(key),
    update: (key: string, value: unknown) => Promise.resolve(void stored.set(key, value)),
  };
  return new KeptPods(
    { settings: {} as never, podLabels: {}, logger: logger as never },
    memento as never,
  );
}

/** A gateway pod's kernel records, held in memory as the pod's annotation would hold them. */
function podRecords(initial: NotebookKernelRecords = {}) {
  const records: NotebookKernelRecords = { ...initial };
  return {
    records,
    read: () => Promise.resolve({ ...records }),
    record: (key: string, record: NotebookKernelRecord | undefined) => {
      if (record) {
        records[key] = record;
      } else {
        delete records[key];
      }
      return Promise.resolve();
    },
  };
}

/** The default gateway pod as the controller sees it, its kernel records in `records`. */
function gatewayWith(records = podRecords()) {
  return { podName: 'default-gateway', notebookKernels: records };
}

/** A notebook's document as the kernels key and record it. */
const notebookDocument = { uri: { toString: () => notebook }, notebookType: 'jupyter-notebook' };

/**
 * The default kernel controller's kernels (or a profile's), started (or attached to, given the
 * kept kernel) by `startKernel`, asynchronously as the real start is.
 */
function controllerWith(
  kept: KeptPods,
  startKernel: (attachTo?: { kernelId: string }) => unknown,
  profile?: string,
) {
  const ctx = { keptPods: kept, logger, settings: { profiles: [] } };
  const controller = new KernelController(ctx as never, profile) as unknown as {
    kernels: GatewayKernels;
    gateway: { running: unknown };
  };
  const kernels = controller.kernels as unknown as {
    startKernel: (server: unknown, attachTo?: { kernelId: string }) => Promise<unknown>;
    kernelOn: (server: unknown, notebook: typeof notebookDocument) => Promise<unknown>;
    kernels: Map<string, unknown>;
  };
  kernels.startKernel = (_server, attachTo) => Promise.resolve().then(() => startKernel(attachTo));
  return {
    kernelOn: (server: unknown) => kernels.kernelOn(server, notebookDocument),
    /** Gives the notebook a running kernel on `server`, the gateway that runs. */
    running: (server: unknown, kernel: unknown) => {
      controller.gateway = { running: server };
      kernels.kernels.set(notebook, {
        server,
        kernel: Promise.resolve(kernel),
        origins: new Map(),
        lastCount: 0,
        kind: 'notebook',
        recorded: true,
      });
    },
    restartKernel: () =>
      (controller as unknown as KernelController).restartKernel(notebookDocument as never),
  };
}

/** A kernel with the interface the controller records from (ids, restart). */
function fakeKernel(kernelId: string, afterRestart = kernelId) {
  return {
    kernelId,
    sessionId: `session-of-${kernelId}`,
    restart(this: { kernelId: string; sessionId: string }) {
      this.kernelId = afterRestart;
      this.sessionId = `session-of-${afterRestart}`;
      return Promise.resolve();
    },
  };
}

async function keptGateway(): Promise<KeptPods> {
  const kept = keptPods();
  await kept.recordPod('gateway', 'default-gateway');
  await kept.recordKernel(
    notebook,
    { gateway: 'default-gateway', kernelId: 'K1', sessionId: 'S1' },
    podRecords() as never,
  );
  return kept;
}

test('a kernel on another pod (a profile gateway) does not replace the notebook kernel record', async () => {
  const kept = await keptGateway();
  const onPod = podRecords();
  await kept.recordKernel(
    notebook,
    { gateway: 'gpu-gateway', kernelId: 'K2', sessionId: 'S2' },
    onPod as never,
  );
  assert.deepEqual(onPod.records, {}, 'nor is it recorded on that pod');
  await kept.recordRunningCell(notebook, 'K2', { cell: 0, codeHash: 'c2', requestId: 'R2' });
  assert.deepEqual(kept.kernelOf(notebook, 'default-gateway'), {
    gateway: 'default-gateway',
    kernelId: 'K1',
    sessionId: 'S1',
  });
});

test('a profile controller neither attaches to nor records the notebook kernel', async () => {
  const kept = await keptGateway();
  const attached: (string | undefined)[] = [];
  const profile = controllerWith(
    kept,
    (attachTo) => {
      attached.push(attachTo?.kernelId);
      return fakeKernel('K2');
    },
    'gpu',
  );
  // The profile gateway pod, named as the default's would be: only the controller tells them apart.
  await profile.kernelOn(gatewayWith());
  assert.deepEqual(attached, [undefined], 'a new kernel, not the default one');
  assert.equal(kept.kernelOf(notebook)?.kernelId, 'K1');
});

test('a kept kernel that fails to attach for another reason than being gone is not replaced', async () => {
  const kept = await keptGateway();
  const started: (string | undefined)[] = [];
  const controller = controllerWith(kept, (attachTo) => {
    started.push(attachTo?.kernelId);
    if (attachTo) {
      throw new KernelConnectionError('the kernel WebSocket did not open');
    }
    return fakeKernel('K2');
  });
  await assert.rejects(controller.kernelOn(gatewayWith()), KernelConnectionError);
  assert.deepEqual(started, ['K1'], 'no new kernel started');
  assert.equal(kept.kernelOf(notebook)?.kernelId, 'K1', 'the record still names the live kernel');
});

test('a kept kernel the server does not have is replaced by a new one, recorded', async () => {
  const kept = await keptGateway();
  const controller = controllerWith(kept, (attachTo) => {
    if (attachTo) {
      throw new ExecutorStateError(`kernel ${attachTo.kernelId} is not running on the server`);
    }
    return fakeKernel('K2');
  });
  const onPod = podRecords();
  await controller.kernelOn(gatewayWith(onPod));
  assert.equal(kept.kernelOf(notebook, 'default-gateway')?.kernelId, 'K2');
  assert.deepEqual(onPod.records, {
    [notebookKernelKey(notebook)]: { kernelId: 'K2', sessionId: 'session-of-K2' },
  });
});

test('restarting a dead kernel records the id of the kernel that replaced it', async () => {
  const kept = await keptGateway();
  const controller = controllerWith(kept, () => assert.fail('no kernel starts'));
  controller.running(gatewayWith(), fakeKernel('K1', 'K3'));
  await controller.restartKernel();
  assert.equal(kept.kernelOf(notebook, 'default-gateway')?.kernelId, 'K3');
  assert.equal(kept.kernelOf(notebook)?.sessionId, 'session-of-K3');
});

test('a notebook that workspace state lost gets the kernel its gateway pod records, then recorded in both', async () => {
  const kept = keptPods();
  await kept.recordPod('gateway', 'default-gateway');
  const onPod = podRecords({
    [notebookKernelKey(notebook)]: { kernelId: 'K7', sessionId: 'S7' },
    [notebookKernelKey('file:///project/other.ipynb')]: { kernelId: 'K8', sessionId: 'S8' },
  });
  const attached: (string | undefined)[] = [];
  const controller = controllerWith(kept, (attachTo) => {
    attached.push(attachTo?.kernelId);
    return fakeKernel(attachTo?.kernelId ?? 'new');
  });
  await controller.kernelOn(gatewayWith(onPod));
  assert.deepEqual(attached, ['K7'], "the notebook's own kernel, not another notebook's");
  assert.deepEqual(kept.kernelOf(notebook, 'default-gateway'), {
    gateway: 'default-gateway',
    kernelId: 'K7',
    sessionId: 'session-of-K7',
  });
});

test("workspace state's kernel is used while it runs; once it is gone, the kernel the pod records", async () => {
  const onPod = () =>
    podRecords({ [notebookKernelKey(notebook)]: { kernelId: 'K9', sessionId: 'S9' } });
  const live = await keptGateway();
  const tried: (string | undefined)[] = [];
  const first = controllerWith(live, (attachTo) => {
    tried.push(attachTo?.kernelId);
    return fakeKernel(attachTo?.kernelId ?? 'new');
  });
  const agreed = onPod();
  await first.kernelOn(gatewayWith(agreed));
  assert.deepEqual(tried, ['K1']);
  assert.deepEqual(agreed.records[notebookKernelKey(notebook)]?.kernelId, 'K1', 'the pod follows');

  const gone = await keptGateway();
  const triedAgain: (string | undefined)[] = [];
  const second = controllerWith(gone, (attachTo) => {
    triedAgain.push(attachTo?.kernelId);
    if (attachTo?.kernelId === 'K1') {
      throw new ExecutorStateError('kernel K1 is not running on the server');
    }
    return fakeKernel(attachTo?.kernelId ?? 'new');
  });
  await second.kernelOn(gatewayWith(onPod()));
  assert.deepEqual(triedAgain, ['K1', 'K9'], 'no new kernel while a recorded one runs');
  assert.equal(gone.kernelOf(notebook)?.kernelId, 'K9');
});

test('a kernel recorded for another notebook in workspace state is claimed by this one alone', async () => {
  const kept = await keptGateway();
  const onPod = podRecords();
  await kept.recordKernel(
    'file:///project/copy.ipynb',
    { gateway: 'default-gateway', kernelId: 'K1', sessionId: 'S1' },
    onPod as never,
  );
  assert.equal(kept.kernelOf(notebook), undefined, 'the first notebook lost its claim');
  assert.deepEqual(Object.keys(onPod.records), [notebookKernelKey('file:///project/copy.ipynb')]);
});

test('recording the kernel a notebook already has keeps the cell recorded running on it; another kernel drops it', async () => {
  const kept = await keptGateway();
  const running = { cell: 2, codeHash: 'c', requestId: 'R1' };
  await kept.recordRunningCell(notebook, 'K1', running);
  const kernel = { gateway: 'default-gateway', kernelId: 'K1', sessionId: 'S1' };
  await kept.recordKernel(notebook, kernel, podRecords() as never);
  assert.deepEqual(kept.kernelOf(notebook)?.running, running);
  await kept.recordKernel(notebook, { ...kernel, kernelId: 'K2' }, podRecords() as never);
  assert.equal(kept.kernelOf(notebook)?.running, undefined);
});
