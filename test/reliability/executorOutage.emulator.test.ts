import '../support/useVscodeStub.ts';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  BlockInterruptedError,
  ConnectionLostError,
  PodCommandLineCodeExecutor,
  PodGoneError,
  type CommandLineCodeResult,
  parseSettings,
  type PortForwardState,
} from '../../src/core/index.ts';
import { ExecutorSession } from '../../src/extension/executorSession.ts';
import { PodStateHolder } from '../../src/extension/podState.ts';
import { podRunnerStatus } from '../../src/extension/statusBar.ts';
import {
  apiRequest,
  eventually,
  managedPodNames,
  withEmulator,
} from '../support/emulatorFixture.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** Prints its shell's pid (the `sleep` it becomes), then sleeps far past any test. */
const longBlock = 'echo $$ > /workspace/pid; echo started; exec sleep 601';
const stillRunning = 'kill -0 "$(cat /workspace/pid)" 2>/dev/null && echo running || echo stopped';
const countedRun = 'echo run >> /workspace/runs; wc -l < /workspace/runs';
/** An outcome as an assertion message shows it. */
const shown = (outcome: unknown) =>
  outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : JSON.stringify(outcome);

let emulator: Emulator;

before(async () => {
  emulator = await withEmulator({ backoffBaseMs: 200 });
});

after(async () => {
  await emulator.verifyNoLeaks();
});

/**
 * Brings the API server back with reads of pods still failing (as if it were unreachable to the
 * executor), does `change` through the server, waits until the pod `podName` shows it, then lets
 * reads through: whatever the executor reads next is the pod after the change.
 */
async function changeThePodBeforeTheExecutorLooks(
  outage: { restore(): Promise<void> },
  podName: string,
  change: () => Promise<void>,
  done: (phase: string | undefined) => boolean,
): Promise<void> {
  emulator.faults.failRequests({ verb: 'get', resource: 'pods', count: 10_000, status: 503 });
  await outage.restore();
  await change();
  await eventually(
    async () => {
      const list = (await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods')).body as {
        items: { metadata: { name: string }; status?: { phase?: string } }[];
      };
      const pod = list.items.find((item) => item.metadata.name === podName);
      return done(pod?.status?.phase);
    },
    60_000,
    'the pod to change',
  );
  emulator.faults.clearRequestFailures();
}

const deletePod = (podName: string) => async () => {
  await apiRequest(emulator, 'DELETE', `/api/v1/namespaces/default/pods/${podName}`);
};

describe('the command-line executor across an API server outage', () => {
  let executor: PodCommandLineCodeExecutor | undefined;
  let outage: { restore(): Promise<void> } | undefined;
  let states: PortForwardState[] = [];

  async function startExecutor(
    options: { timeout?: number; podSpec?: Record<string, unknown> } = {},
  ): Promise<PodCommandLineCodeExecutor> {
    states = [];
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      timeout: options.timeout ?? 120,
      startupTimeout: 60,
      onConnectionState: (state) => states.push(state),
      ...(options.podSpec ? { podSpec: options.podSpec } : {}),
    });
    await executor.start();
    return executor;
  }

  const sh = (code: string, signal?: AbortSignal) =>
    executor!.executeCodeBlocks([{ language: 'sh', code }], signal ? { signal } : {});

  /** Settles with the result or the error (wrapped: an async function would wait for it). */
  const settled = (run: Promise<CommandLineCodeResult>) => ({
    outcome: run.catch((error: unknown) => error as Error),
  });

  async function restore(): Promise<void> {
    await outage?.restore();
    outage = undefined;
  }

  /** Starts the long block and takes the API server down at its first output. */
  async function longBlockIntoAnOutage(): Promise<{
    outcome: Promise<CommandLineCodeResult | Error>;
  }> {
    let outageBegun: Promise<void> | undefined;
    const running = settled(
      executor!.executeCodeBlocks([{ language: 'sh', code: longBlock }], {
        onOutput: () => {
          outageBegun ??= emulator.faults.takeApiServerDown().then((down) => {
            outage = down;
          });
        },
      }),
    );
    await eventually(() => outageBegun !== undefined, 60_000, 'the block to print');
    await outageBegun;
    return running;
  }

  /** A run asked for while the API server is down, once it waits for the server. */
  async function runDuringAnOutage(
    code: string,
  ): Promise<{ outcome: Promise<CommandLineCodeResult | Error> }> {
    outage = await emulator.faults.takeApiServerDown();
    const running = settled(sh(code));
    await eventually(() => states.at(-1) === 'reconnecting', 30_000, 'the run to wait');
    return running;
  }

  afterEach(async () => {
    emulator.faults.clearRequestFailures();
    await restore();
    await executor?.stop();
    executor = undefined;
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours remains');
  });

  test(
    'a block running when the API server goes down is stopped in the pod once it is back; the error says so',
    { timeout: 180_000 },
    async () => {
      await startExecutor();
      const { outcome } = await longBlockIntoAnOutage();
      await eventually(() => states.at(-1) === 'reconnecting', 30_000, 'reconnecting');
      await restore();

      const error = await outcome;
      assert.ok(error instanceof BlockInterruptedError, shown(error));
      assert.equal(error.stopped, true);
      assert.equal(error.output, 'started\n');
      assert.match(
        error.message,
        // The warm runtime stops its blocks when its stream ends, before the server is back.
        /^connection lost before the command finished in pod \S+: .*; (once the API server answered again, the block was stopped in the pod|the warm runtime stopped the block when its stream ended): it did not finish/,
      );
      assert.equal(states.at(-1), 'connected');
      assert.equal((await sh(stillRunning)).output, 'stopped\n', 'nothing is left running');
    },
  );

  test(
    'a block cut by an outage that outlasts its timeout: the error says it was not stopped and that its timeout in the pod ended it',
    { timeout: 180_000 },
    async () => {
      await startExecutor({ timeout: 2 });
      const { outcome } = await longBlockIntoAnOutage();

      const error = await outcome;
      assert.ok(error instanceof BlockInterruptedError, shown(error));
      assert.equal(error.stopped, false);
      assert.equal(error.output, 'started\n');
      assert.match(
        error.message,
        /; the API server did not answer again within the block's timeout \(2 s\), which has ended it in the pod$/,
      );
      await restore();
      assert.equal((await sh(stillRunning)).output, 'stopped\n', 'the timeout in the pod ended it');
    },
  );

  test(
    'a run asked for during the outage waits (reconnecting) and runs exactly once when the server is back',
    { timeout: 180_000 },
    async () => {
      await startExecutor();
      const { outcome } = await runDuringAnOutage(countedRun);
      await restore();

      const result = await outcome;
      assert.ok(!(result instanceof Error), shown(result));
      assert.equal(result.exitCode, 0, result.output);
      assert.equal(result.output.trim(), '1');
      assert.equal(states.at(-1), 'connected');
      assert.equal((await sh('cat /workspace/runs')).output, 'run\n', 'it ran exactly once');
    },
  );

  test(
    'a run asked for during an outage that outlasts its timeout fails saying it was not run',
    { timeout: 180_000 },
    async () => {
      await startExecutor({ timeout: 2 });
      const asked = Date.now();
      const { outcome } = await runDuringAnOutage(countedRun);

      const error = await outcome;
      const waited = Date.now() - asked;
      assert.ok(error instanceof ConnectionLostError, shown(error));
      assert.match(
        error.message,
        /the block could not be started within its 2 s \(.*ECONNREFUSED.*\): it was not run/,
      );
      assert.ok(waited >= 2_000 && waited < 5_000, `gave up after ${waited} ms`);
      await restore();
      assert.doesNotMatch((await sh('ls /workspace')).output, /^runs$/m, 'it never ran');
    },
  );

  test(
    'a run waiting during the outage is cancelled at once by its signal, never run',
    { timeout: 180_000 },
    async () => {
      await startExecutor();
      outage = await emulator.faults.takeApiServerDown();
      const cancel = new AbortController();
      const { outcome } = settled(sh(countedRun, cancel.signal));
      await eventually(() => states.at(-1) === 'reconnecting', 30_000, 'the run to wait');
      cancel.abort();

      const result = await outcome;
      assert.ok(!(result instanceof Error), shown(result));
      assert.deepEqual([result.exitCode, result.output], [1, 'Code execution was cancelled.']);
      await restore();
      assert.doesNotMatch((await sh('ls /workspace')).output, /^runs$/m, 'it never ran');
    },
  );

  test(
    'the pod deleted during the outage: the waiting run fails as gone, with its events; the next start makes a fresh pod',
    { timeout: 180_000 },
    async () => {
      const kept = await startExecutor();
      await sh('echo old > /workspace/state');
      const { outcome } = await runDuringAnOutage(countedRun);
      await changeThePodBeforeTheExecutorLooks(
        outage!,
        kept.podName,
        deletePod(kept.podName),
        (phase) => phase === undefined,
      );
      outage = undefined;

      const error = await outcome;
      assert.ok(error instanceof PodGoneError, shown(error));
      assert.match(error.message, /was deleted: it cannot be reconnected to\nLast events:\n {2}\S/);
      assert.ok(error.events.length > 0);
      assert.equal(states.at(-1), 'gone');
      assert.equal(kept.isRunning, false, 'a gone pod is not used again');

      await kept.start();
      assert.equal((await sh('cat /workspace/state 2>/dev/null || echo fresh')).output, 'fresh\n');
    },
  );

  test(
    'the pod stopped while a block ran across the outage: the run fails as gone, not retried forever',
    { timeout: 180_000 },
    async () => {
      const kept = await startExecutor({ podSpec: { spec: { restartPolicy: 'Never' } } });
      const { outcome } = await longBlockIntoAnOutage();
      await eventually(() => states.at(-1) === 'reconnecting', 30_000, 'reconnecting');
      emulator.faults.killPod('default', kept.podName, 'OOMKilled');
      await changeThePodBeforeTheExecutorLooks(
        outage!,
        kept.podName,
        () => Promise.resolve(),
        (phase) => phase === 'Failed',
      );
      outage = undefined;

      const error = await outcome;
      assert.ok(error instanceof PodGoneError, shown(error));
      assert.match(error.message, /stopped \(phase Failed/);
      assert.ok(error.events.length > 0);
      assert.equal(states.at(-1), 'gone');
      assert.equal(kept.isRunning, false);
      assert.deepEqual(await managedPodNames(emulator), [], 'the stopped pod was deleted');
    },
  );
});

describe("the window's executor across an API server outage (status bar)", () => {
  let session: ExecutorSession;
  let outage: { restore(): Promise<void> } | undefined;
  const noop = () => Promise.resolve(undefined);
  const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

  /** The status bar of a window whose only pod is this session's. */
  const statusText = () =>
    podRunnerStatus({
      executor: session,
      kernels: {
        status: new PodStateHolder(),
        kernelCounts: { notebooks: 0, interactive: 0, agent: 0 },
      },
      keptPods: { waiting: {} },
      profiles: { activeName: undefined },
    } as never).text;

  const run = (code: string) =>
    session.withPod(new AbortController().signal, (executor) =>
      executor.executeCodeBlocks([{ language: 'sh', code }]),
    );

  before(() => {
    session = new ExecutorSession({
      settings: parseSettings({ kubeconfig: emulator.kubeconfigPath, timeout: 120 }),
      logger: logger,
      podLabels: {},
      leftovers: { afterPodStart: () => {} } as never,
      keptPods: {
        recordPod: noop,
        forgetPod: noop,
        podFor: (_role: string, build: () => unknown) => Promise.resolve(build()),
      } as never,
      profiles: { profileFor: () => undefined },
    });
  });

  afterEach(async () => {
    emulator.faults.clearRequestFailures();
    await outage?.restore();
    outage = undefined;
  });

  after(async () => {
    await session.stop(true);
    session.dispose();
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours remains');
  });

  test('a run asked for during the outage shows "executor reconnecting…", then runs once', async () => {
    assert.equal((await run('echo up')).output, 'up\n');
    assert.match(statusText(), /: executor ready$/);
    outage = await emulator.faults.takeApiServerDown();
    const waiting = run(countedRun).catch((error: unknown) => error as Error);
    await eventually(() => session.status.reconnecting, 30_000, 'the run to wait');
    assert.equal(statusText(), '$(sync~spin) Pod Runner: executor reconnecting…');
    await outage.restore();
    outage = undefined;

    const result = await waiting;
    assert.ok(!(result instanceof Error), shown(result));
    assert.equal(result.output.trim(), '1');
    assert.equal(session.status.reconnecting, false);
    assert.match(statusText(), /: executor ready$/);
  });

  test('the pod deleted during the outage: the status bar shows the error, the next run starts a fresh pod', async () => {
    const podName = session.podName!;
    outage = await emulator.faults.takeApiServerDown();
    const waiting = run(countedRun).catch((error: unknown) => error as Error);
    await eventually(() => session.status.reconnecting, 30_000, 'the run to wait');
    await changeThePodBeforeTheExecutorLooks(
      outage,
      podName,
      deletePod(podName),
      (phase) => phase === undefined,
    );
    outage = undefined;

    const error = await waiting;
    assert.ok(error instanceof PodGoneError, shown(error));
    assert.equal(session.status.state, 'error');
    assert.match(
      session.status.lastError?.message ?? '',
      /was deleted: it cannot be reconnected to/,
    );
    assert.equal(statusText(), '$(error) Pod Runner: executor error');

    assert.equal((await run('cat /workspace/runs 2>/dev/null || echo fresh')).output, 'fresh\n');
    assert.match(statusText(), /: executor ready$/);
  });
});
