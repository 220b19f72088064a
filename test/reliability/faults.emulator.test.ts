import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  KubernetesApiError,
  PermissionDeniedError,
  PodCommandLineCodeExecutor,
  PodJupyterServer,
  PodRunnerError,
} from '../../src/core/index.ts';
import {
  apiRequest,
  eventually,
  managedPodNames,
  withEmulator,
} from '../support/emulatorFixture.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** Settles `promise` and says how: its value or its error, and how long it took. */
async function settle<T>(promise: Promise<T>) {
  const started = Date.now();
  try {
    return { value: await promise, ms: Date.now() - started };
  } catch (error) {
    return { error: error as Error, ms: Date.now() - started };
  }
}

describe('faults: each ends in a typed error or a correct result within a bound, and nothing is left', () => {
  let emulator: Emulator;
  let faultsInjected = 0;
  const executors: PodCommandLineCodeExecutor[] = [];
  const executor = (
    options: Partial<ConstructorParameters<typeof PodCommandLineCodeExecutor>[0]> = {},
  ) => {
    const created = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      timeout: 60,
      startupTimeout: 30,
      ...options,
    });
    executors.push(created);
    return created;
  };

  before(async () => {
    emulator = await withEmulator();
  });

  afterEach(async () => {
    emulator.faults.clearRequestFailures();
    emulator.faults.delayPodStart(0);
    await Promise.all(executors.splice(0).map((e) => e.stop().catch(() => undefined)));
    await eventually(
      async () => (await managedPodNames(emulator)).length === 0,
      30_000,
      'no pod left',
    );
  });

  after(async () => {
    process.stdout.write(`# faults injected: ${faultsInjected}\n`);
    await emulator.verifyNoLeaks();
  });

  test('500s on reads and a 429 with Retry-After on create are retried; start succeeds', async () => {
    emulator.faults.failRequests({ verb: 'get', resource: 'pods', status: 500, count: 2 });
    emulator.faults.failRequests({
      verb: 'create',
      resource: 'pods',
      status: 429,
      retryAfterSeconds: 1,
    });
    faultsInjected += 3;
    const started = Date.now();
    const subject = executor();
    await subject.start();
    assert.ok(Date.now() - started >= 1000, 'Retry-After was honoured');
    assert.equal(
      (await subject.executeCodeBlocks([{ language: 'sh', code: 'echo ok' }])).output,
      'ok\n',
    );
  });

  test('a 500 on create is not retried (it may have acted): a typed error, nothing left', async () => {
    emulator.faults.failRequests({ verb: 'create', resource: 'pods', status: 500 });
    faultsInjected += 1;
    const outcome = await settle(executor().start());
    assert.ok(outcome.error instanceof KubernetesApiError, String(outcome.error));
    assert.equal(outcome.error.statusCode, 500);
  });

  test('retries are bounded: a read that keeps failing gives up with the 503', async () => {
    emulator.faults.failRequests({ verb: 'get', resource: 'pods', status: 503, count: 50 });
    faultsInjected += 50;
    const outcome = await settle(executor().start());
    assert.ok(outcome.error instanceof KubernetesApiError, String(outcome.error));
    assert.equal(outcome.error.statusCode, 503);
    assert.ok(outcome.ms < 15_000, `gave up after ${outcome.ms} ms`);
  });

  test('the API server restarting while the pod starts: start resumes and succeeds', async () => {
    emulator.faults.delayPodStart(1500);
    faultsInjected += 1;
    const subject = executor();
    const starting = settle(subject.start());
    await new Promise((done) => setTimeout(done, 400));
    await emulator.faults.restartApiServer(1000);
    const outcome = await starting;
    assert.equal(outcome.error, undefined, String(outcome.error));
    assert.ok(outcome.ms < 20_000, `took ${outcome.ms} ms`);
    assert.equal(
      (await subject.executeCodeBlocks([{ language: 'sh', code: 'echo up' }])).output,
      'up\n',
    );
  });

  test("the pod's watch cut while it starts: the wait resumes from its resourceVersion", async () => {
    emulator.faults.delayPodStart(1500);
    const subject = executor();
    const starting = settle(subject.start());
    await new Promise((done) => setTimeout(done, 500));
    faultsInjected += emulator.faults.dropConnections('default', subject.podName);
    const outcome = await starting;
    assert.equal(outcome.error, undefined, String(outcome.error));
  });

  test('the executor pod deleted in the middle of a block: the block ends, typed, in bounded time', async () => {
    const subject = executor();
    await subject.start();
    const running = settle(
      subject.executeCodeBlocks([{ language: 'sh', code: 'echo started; sleep 60' }]),
    );
    await new Promise((done) => setTimeout(done, 500));
    await apiRequest(emulator, 'DELETE', `/api/v1/namespaces/default/pods/${subject.podName}`);
    faultsInjected += 1;
    const outcome = await running;
    assert.ok(outcome.ms < 40_000, `took ${outcome.ms} ms`);
    assert.ok(
      outcome.error instanceof PodRunnerError || (outcome.value && outcome.value.exitCode !== 0),
      `outcome: ${String(outcome.error ?? JSON.stringify(outcome.value))}`,
    );
  });

  test('the container OOM-killed in the middle of a block: a typed error or non-zero end, in bounded time', async () => {
    const subject = executor();
    await subject.start();
    const running = settle(
      subject.executeCodeBlocks([{ language: 'sh', code: 'echo started; sleep 60' }]),
    );
    await new Promise((done) => setTimeout(done, 500));
    emulator.faults.killPod('default', subject.podName, 'OOMKilled');
    faultsInjected += 1;
    const outcome = await running;
    assert.ok(outcome.ms < 20_000, `took ${outcome.ms} ms`);
    assert.ok(
      outcome.error instanceof PodRunnerError || (outcome.value && outcome.value.exitCode !== 0),
      `outcome: ${String(outcome.error ?? JSON.stringify(outcome.value))}`,
    );
  });

  // The in-cluster gateway creates its Secret, then its Pod, then its Service: a 403 on the Pod
  // finds the Secret made, a 403 on the Service finds the Secret and a starting Pod made.
  for (const forbidden of ['pods', 'services']) {
    test(`a 403 on the ${forbidden} create half-way through the gateway start removes what was already created`, async () => {
      emulator.faults.failRequests({ verb: 'create', resource: forbidden, status: 403 });
      faultsInjected += 1;
      const gateway = new PodJupyterServer({
        kubeconfig: emulator.kubeconfigPath,
        access: 'inCluster',
      });
      const outcome = await settle(gateway.start());
      assert.ok(outcome.error instanceof PermissionDeniedError, String(outcome.error));
      assert.match(outcome.error.message, new RegExp(`create ${forbidden.slice(0, -1)}`));
      assert.ok(outcome.ms < 20_000, `took ${outcome.ms} ms`);
      const remaining = await Promise.all(
        ['secrets', 'pods', 'services'].map(
          async (kind) =>
            (
              (await apiRequest(emulator, 'GET', `/api/v1/namespaces/default/${kind}`)).body as {
                items: { metadata: { name: string } }[];
              }
            ).items.filter((item) => item.metadata.name.startsWith(gateway.podName)).length,
        ),
      );
      assert.deepEqual(remaining, [0, 0, 0], 'secret, pod and service are gone');
    });
  }

  test('cancelled while creating: nothing is left', async () => {
    const controller = new AbortController();
    const subject = executor();
    const starting = settle(subject.start({ signal: controller.signal }));
    controller.abort();
    const outcome = await starting;
    assert.ok(outcome.error, 'start was cancelled');
  });

  test('cancelled while waiting for Ready: the pod is deleted', async () => {
    // Long enough that a loaded machine cannot reach Ready before the cancel.
    emulator.faults.delayPodStart(15_000);
    const controller = new AbortController();
    const subject = executor();
    const starting = settle(subject.start({ signal: controller.signal }));
    await eventually(
      async () => (await managedPodNames(emulator)).includes(subject.podName),
      10_000,
      'the pod',
    );
    controller.abort();
    const outcome = await starting;
    assert.ok(outcome.error, 'start was cancelled');
    assert.ok(outcome.ms < 5_000, `cancel took ${outcome.ms} ms`);
    await eventually(
      async () => !(await managedPodNames(emulator)).includes(subject.podName),
      30_000,
      'deletion',
    );
  });

  test('cancelled between reading the pod and watching it (from the progress callback): the cancel is not lost', async () => {
    emulator.faults.delayPodStart(15_000);
    const controller = new AbortController();
    const subject = executor();
    // The first progress report comes after the pod is read and before its watch starts.
    const outcome = await settle(
      subject.start({ signal: controller.signal, onProgress: () => controller.abort() }),
    );
    assert.ok(outcome.error, 'start was cancelled');
    assert.ok(outcome.ms < 5_000, `cancel took ${outcome.ms} ms`);
  });

  test('cancelled while the exec connection opens: the block is stopped, not run to its end', async () => {
    const subject = executor();
    await subject.start();
    const controller = new AbortController();
    const running = settle(
      subject.executeCodeBlocks(
        [{ language: 'python', code: 'import time\ntime.sleep(6)\nprint("finished")' }],
        { signal: controller.signal },
      ),
    );
    // executeCodeBlocks has checked the signal and is opening the exec WebSocket now.
    controller.abort();
    const outcome = await running;
    assert.ok(outcome.ms < 4_000, `cancel took ${outcome.ms} ms`);
    assert.equal(outcome.value?.exitCode, 1);
    assert.match(outcome.value?.output ?? '', /Code execution was cancelled/);
    assert.doesNotMatch(outcome.value?.output ?? '', /finished/);
  });

  test('cancelled while writing a large block, and while running: nothing keeps running', async () => {
    const subject = executor();
    await subject.start();
    for (const [stage, code, delay] of [
      ['writing', `#${'x'.repeat(30 * 1024 * 1024)}\nimport time\ntime.sleep(60)`, 5],
      ['running', 'import time\nprint("go", flush=True)\ntime.sleep(60)', 800],
    ] as const) {
      const controller = new AbortController();
      const running = settle(
        subject.executeCodeBlocks([{ language: 'python', code }], { signal: controller.signal }),
      );
      await new Promise((done) => setTimeout(done, delay));
      controller.abort();
      const outcome = await running;
      assert.ok(outcome.ms < 10_000, `${stage}: cancel took ${outcome.ms} ms`);
      assert.match(outcome.value?.output ?? '', /Code execution was cancelled\.$/, stage);
      await eventually(
        async () =>
          (
            await subject.executeCodeBlocks([
              { language: 'sh', code: "pgrep -f 'time.slee[p]' || echo none" },
            ])
          ).output === 'none\n',
        10_000,
        `${stage}: the block's process to end`,
      );
    }
  });
});
