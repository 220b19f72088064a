import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  PodCommandLineCodeExecutor,
  PodStoppedError,
  type PodStartProgress,
} from '../../src/core/index.ts';
import { apiRequest, eventually, managedPodNames } from '../support/emulatorFixture.ts';
import { emulatorOnly, withBackend, type TestBackend } from '../support/backend.ts';
import { minimalImages } from '../support/syncHelpers.ts';

/** Three seconds: the setting is in minutes, fractions let a test wait seconds. */
const idleTimeoutMinutes = 3 / 60;
const idleReason = 'the pod stopped after 3 idle seconds';

interface PodState {
  uid: string;
  phase: string;
}

describe('an idle executor pod stops by itself', () => {
  let backend: TestBackend;
  const executors: PodCommandLineCodeExecutor[] = [];
  const executor = (options: ConstructorParameters<typeof PodCommandLineCodeExecutor>[0] = {}) => {
    const created = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 30,
      startupTimeout: 30,
      idleTimeoutMinutes,
      ...options,
    });
    executors.push(created);
    return created;
  };
  const podState = async (name: string): Promise<PodState> => {
    const { body } = await apiRequest(backend, 'GET', `/api/v1/namespaces/default/pods/${name}`);
    const pod = body as { metadata: { uid: string }; status: { phase: string } };
    return { uid: pod.metadata.uid, phase: pod.status.phase };
  };
  const waitForPhase = (name: string, phase: string) =>
    eventually(async () => (await podState(name)).phase === phase, 30_000, `pod ${name} ${phase}`);

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200, images: { images: minimalImages } });
  });

  after(async () => {
    for (const each of executors) {
      await each.stop();
    }
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
  });

  test('with no run the keep-alive exits: phase Succeeded, and it says why in its log', async () => {
    const idle = executor();
    await idle.start();
    await waitForPhase(idle.podName, 'Succeeded');
    const log = await apiRequest(
      backend,
      'GET',
      `/api/v1/namespaces/default/pods/${idle.podName}/log`,
    );
    assert.match(log.text, /nothing ran for 3 seconds; stopping the pod/);
  });

  test('a block running longer than the timeout is activity: the pod is not stopped under it', async () => {
    const busy = executor();
    await busy.start();
    const result = await busy.executeCodeBlocks([
      { language: 'sh', code: 'sleep 7; echo still here' },
    ]);
    assert.deepEqual([result.exitCode, result.output], [0, 'still here\n']);
    assert.equal((await podState(busy.podName)).phase, 'Running');
  });

  test('short runs more often than the timeout keep the pod running; none then stops it', async () => {
    const active = executor();
    await active.start();
    const started = Date.now();
    // Each run lasts far less than the check interval (1 s), so only the new process shows it.
    while (Date.now() - started < 8_000) {
      const result = await active.executeCodeBlocks([{ language: 'sh', code: 'echo ok' }]);
      assert.equal(result.output, 'ok\n');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    assert.equal((await podState(active.podName)).phase, 'Running');
    await waitForPhase(active.podName, 'Succeeded');
  });

  test('an open shell is activity; once it exits the pod stops', async () => {
    const shell = executor();
    await shell.start();
    const terminal = await shell.openTerminal();
    const exited = new Promise((resolve) => terminal.onExit(resolve));
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    assert.equal((await podState(shell.podName)).phase, 'Running');
    terminal.write('exit 0\n');
    assert.deepEqual(await exited, { exitCode: 0 });
    await waitForPhase(shell.podName, 'Succeeded');
  });

  test('a run on a stopped pod deletes it and says why; the next start makes a fresh pod', async () => {
    const stopped = executor();
    await stopped.start();
    const first = await podState(stopped.podName);
    await waitForPhase(stopped.podName, 'Succeeded');
    await assert.rejects(
      stopped.executeCodeBlocks([{ language: 'sh', code: 'echo hi' }]),
      (error: unknown) =>
        error instanceof PodStoppedError &&
        error.reason === idleReason &&
        error.message === `${idleReason}; the next start creates a fresh pod`,
    );
    assert.equal(stopped.isRunning, false);
    assert.ok(!(await managedPodNames(backend)).includes(stopped.podName), 'deleted');
    await stopped.start();
    const result = await stopped.executeCodeBlocks([{ language: 'sh', code: 'echo hi' }]);
    assert.equal(result.output, 'hi\n');
    assert.notEqual((await podState(stopped.podName)).uid, first.uid);
  });

  test('removeIfEnded: nothing while the pod runs; once it stopped, deletes it and says why', async () => {
    const checked = executor();
    await checked.start();
    assert.equal(await checked.removeIfEnded(), undefined);
    assert.equal(checked.isRunning, true);
    await waitForPhase(checked.podName, 'Succeeded');
    assert.equal(await checked.removeIfEnded(), idleReason);
    assert.equal(checked.isRunning, false);
    assert.ok(!(await managedPodNames(backend)).includes(checked.podName), 'deleted');
  });

  test('reusing a kept pod by name replaces one that stopped, and the start says why', async () => {
    const kept = executor({ podName: 'idle-kept', autoRemove: false });
    await kept.start();
    const first = await podState('idle-kept');
    await kept[Symbol.asyncDispose]();
    await waitForPhase('idle-kept', 'Succeeded');
    const reopened = executor({ podName: 'idle-kept', autoRemove: false });
    const progress: PodStartProgress[] = [];
    await reopened.start({ onProgress: (step) => progress.push(step) });
    assert.deepEqual(progress[0], { phase: 'Replacing', message: idleReason });
    const second = await podState('idle-kept');
    assert.notEqual(second.uid, first.uid);
    assert.equal(second.phase, 'Running');
    await reopened.stop();
  });

  test(
    'an image without sleep never stops when idle (no time can be told to have passed)',
    {
      // Here the keep-alive's /bin/sh is the host's dash on a PATH without sleep. The real node's
      // busybox-sh-only has busybox at /bin/sh, whose sleep is built in (checked there: the pod
      // stops when idle), so no real image is this one.
      skip: emulatorOnly("the image is one of the emulator's catalog (a shell without sleep)"),
    },
    async () => {
      const noSleep = executor({ image: 'busybox-sh-only' });
      const withSleep = executor();
      await Promise.all([noSleep.start(), withSleep.start()]);
      await waitForPhase(withSleep.podName, 'Succeeded');
      assert.equal((await podState(noSleep.podName)).phase, 'Running');
      await noSleep.stop();
    },
  );

  test('idleTimeoutMinutes 0 keeps the plain keep-alive; bad values name the option', () => {
    const never = executor({ idleTimeoutMinutes: 0 });
    const command = never.podManifest.spec?.containers[0]?.command;
    assert.deepEqual(command, [
      '/bin/sh',
      '-c',
      "trap 'exit 0' TERM INT; while :; do sleep 5 & wait $!; done",
    ]);
    const seconds = executor({});
    assert.deepEqual(seconds.podManifest.spec?.containers[0]?.command?.slice(3), [
      'pod-runner-keep-alive',
      String(idleTimeoutMinutes * 60),
      '1',
    ]);
    const defaulted = new PodCommandLineCodeExecutor({ kubeconfig: backend.kubeconfigPath });
    assert.deepEqual(defaulted.podManifest.spec?.containers[0]?.command?.slice(3), [
      'pod-runner-keep-alive',
      '3600',
      '30',
    ]);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => executor({ idleTimeoutMinutes: bad }),
        /idleTimeoutMinutes: must be a number of minutes, 0 or more/,
      );
    }
  });
});
