import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { PodCommandLineCodeExecutor, SyncError } from '../../src/core/index.ts';
import { nodeFileSystem, type LocalFileSystem } from '../../src/core/workspaceSync/localTree.ts';
import { eventually, withEmulator } from '../support/emulatorFixture.ts';
import { scratchDir } from '../support/scratch.ts';
import { inPod, remoteSnapshot, snapshot, writeTree } from '../support/syncHelpers.ts';

/** A first sync opens its one exec while the local walk runs; a walk that fails ends it. */

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

const scratch = scratchDir('pod-runner-sync-early-');
let cases = 0;
const freshDir = () => join(scratch, `case-${++cases}`, `project-${cases}`);

/** Settles with 'open' once the next exec WebSocket the factory makes is open, or after `ms`. */
function nextExecOpen(sockets: { opened?: () => void }, ms: number): Promise<'open' | 'timed out'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timed out'), ms);
    sockets.opened = () => {
      clearTimeout(timer);
      resolve('open');
    };
  });
}

/** The walk waits at its first call until `gate` settles, then runs `then` (which may throw). */
function walkHeldBy(gate: Promise<unknown>, then: () => void = () => undefined): LocalFileSystem {
  return {
    ...nodeFileSystem,
    realpath: async (path) => {
      await gate;
      then();
      return nodeFileSystem.realpath(path);
    },
  };
}

describe('a first sync opens its exec during the walk', () => {
  let emulator: Emulator;
  let executor: PodCommandLineCodeExecutor;
  const sockets: { opened?: () => void } = {};
  const receiversInPod = () =>
    inPod(
      emulator.kubeconfigPath,
      executor.podName,
      `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q 'podrunner[-]pod' && echo \${p#/proc/}; done; true`,
    );

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
    // When the receiver's exec opens is what this tests: the warm runtime (open before a sync)
    // would carry the receiver instead.
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      startupTimeout: 30,
      warmRuntime: false,
      webSocketFactory: (url, protocols, options) => {
        const socket = new WebSocket(url, protocols, options);
        if (url.includes('/exec?')) {
          socket.once('open', () => sockets.opened?.());
        }
        return socket;
      },
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    await emulator.verifyNoLeaks();
  });

  test('the receiver is running before the walk has begun, and the sync is complete', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a', 'sub/b.txt': 'b', link: { link: 'a.txt' } });
    const opened = nextExecOpen(sockets, 10_000);
    const result = await executor.syncWorkspace(dir, { fileSystem: walkHeldBy(opened) });
    assert.equal(await opened, 'open', 'the exec opened while the walk waited');
    assert.deepEqual([result.sent, result.apiCalls], [3, 1]);
    assert.deepEqual(
      await remoteSnapshot(
        emulator.kubeconfigPath,
        executor.podName,
        result.root,
        join(scratch, `remote-${cases}`),
      ),
      snapshot(dir),
    );
  });

  test('a walk longer than the idle deadline does not fail the sync: before its stdin starts, the pod is not waited for', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a' });
    const idleTimeoutMs = 300;
    const opened = nextExecOpen(sockets, 10_000);
    // The walk holds past four idle deadlines after the receiver is running.
    const held = opened.then(
      () => new Promise((resolve) => setTimeout(resolve, 4 * idleTimeoutMs)),
    );
    const result = await executor.syncWorkspace(dir, {
      fileSystem: walkHeldBy(held),
      idleTimeoutMs,
    });
    assert.equal(await opened, 'open');
    assert.deepEqual([result.sent, result.apiCalls], [1, 1]);
  });

  for (const ending of ['a walk that fails', 'a cancel during the walk'] as const) {
    test(`${ending} ends the early exec: no receiver stays in the pod, nothing is written`, async () => {
      const dir = freshDir();
      writeTree(dir, { 'a.txt': 'a' });
      const controller = new AbortController();
      let running = '';
      const opened = nextExecOpen(sockets, 10_000);
      const gate = opened.then(async () => {
        running = await eventually(async () => (await receiversInPod()).trim() || false);
      });
      const fileSystem = walkHeldBy(gate, () => {
        if (ending === 'a cancel during the walk') {
          controller.abort();
        } else {
          throw Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
        }
      });
      await assert.rejects(
        executor.syncWorkspace(dir, { fileSystem, signal: controller.signal }),
        (error: unknown) =>
          ending === 'a cancel during the walk'
            ? error instanceof Error && error.name === 'AbortError'
            : error instanceof SyncError && /cannot sync .*ENOENT/.test(error.message),
      );
      assert.notEqual(running, '', 'the receiver was running while the walk waited');
      await eventually(async () => (await receiversInPod()).trim() === '', 15_000, 'no receiver');
      const root = `/workspace/${basename(dir)}`;
      assert.equal(await inPod(emulator.kubeconfigPath, executor.podName, `ls -A ${root}`), '');
    });
  }
});
