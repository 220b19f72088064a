import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PodCommandLineCodeExecutor, SyncError } from '../../src/core/index.ts';
import { maxWatchedFolders } from '../../src/core/workspaceSync/treeWatch.ts';
import { managedPodNames, withEmulator } from '../support/emulatorFixture.ts';
import { scratchDir } from '../support/scratch.ts';
import {
  inotifyWatches,
  inPod,
  remoteSnapshot,
  snapshot,
  stdoutDropper,
  writeTree,
} from '../support/syncHelpers.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

const scratch = scratchDir('pod-runner-sync-watch-edges-');
let folders = 0;
const freshDir = () => join(scratch, `case-${++folders}`, `project-${folders}`);
/** Whole seconds, so two versions of a file can share one mtime exactly. */
const tick = 1_700_000_000;

describe('folder watches: what they cannot see makes a sync walk', () => {
  let emulator: Emulator;
  let executor: PodCommandLineCodeExecutor;
  const remote = (root: string) =>
    remoteSnapshot(
      emulator.kubeconfigPath,
      executor.podName,
      root,
      join(scratch, `remote-${++folders}`),
    );
  /** A synced file rewritten with the same size and mtime (two writes within one clock tick). */
  const syncedThenRewrittenInOneTick = async () => {
    const dir = freshDir();
    writeTree(dir, { 'data.csv': 'a,1\n' });
    utimesSync(join(dir, 'data.csv'), tick, tick);
    const first = await executor.syncWorkspace(dir);
    writeFileSync(join(dir, 'data.csv'), 'b,2\n');
    utimesSync(join(dir, 'data.csv'), tick, tick);
    return { dir, first };
  };
  const newExecutor = () =>
    new PodCommandLineCodeExecutor({ kubeconfig: emulator.kubeconfigPath, startupTimeout: 30 });

  before(async () => {
    emulator = await withEmulator();
    executor = newExecutor();
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours is left behind');
    await emulator.verifyNoLeaks();
  });

  test('more events than the kernel may queue (it drops the rest unannounced): the sync walks', async () => {
    const dir = freshDir();
    writeTree(dir, { 'noise.txt': 'n', 'victim.txt': 'old\n' });
    const first = await executor.syncWorkspace(dir);
    // While this process is blocked, 20,000 events (a write and a chmod each time, never merged)
    // overflow the 16,384-event queue; then the victim is rewritten.
    execFileSync('python3', [
      '-c',
      `import os, sys
noise = os.path.join(sys.argv[1], 'noise.txt')
for _ in range(10000):
    with open(noise, 'w') as f: f.write('n')
    os.chmod(noise, 0o644)
with open(os.path.join(sys.argv[1], 'victim.txt'), 'w') as f: f.write('new content, longer\\n')`,
      dir,
    ]);
    const result = await executor.syncWorkspace(dir);
    assert.equal(result.sent, 1, 'the victim is sent');
    assert.deepEqual(await remote(first.root), snapshot(dir));
  });

  test('a file with another name: a write through that name is seen', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'one\n', 'sub/keep.txt': 'k\n' });
    linkSync(join(dir, 'a.txt'), join(dir, 'sub/b.txt'));
    const first = await executor.syncWorkspace(dir);
    writeFileSync(join(dir, 'a.txt'), 'two, longer\n');
    const result = await executor.syncWorkspace(dir);
    assert.deepEqual([result.checked, result.sent], [2, 2], 'both names looked at and sent');
    assert.deepEqual(await remote(first.root), snapshot(dir));
  });

  test('a same-size, same-mtime rewrite is still compared by content when the sync walks', async () => {
    const { dir, first } = await syncedThenRewrittenInOneTick();
    // A new file: this sync walks.
    writeFileSync(join(dir, 'other.txt'), 'x\n');
    const result = await executor.syncWorkspace(dir);
    assert.deepEqual([result.checked, result.sent], [2, 2]);
    assert.deepEqual(await remote(first.root), snapshot(dir));
  });

  test('a same-size, same-mtime rewrite whose sync failed is sent by the next one', async () => {
    const { dir, first } = await syncedThenRewrittenInOneTick();
    // A file where the remote root should be: the next sync fails after it took the events.
    await inPod(
      emulator.kubeconfigPath,
      executor.podName,
      `rm -rf ${first.root} && echo x > ${first.root}`,
    );
    await assert.rejects(executor.syncWorkspace(dir), SyncError);
    await inPod(emulator.kubeconfigPath, executor.podName, `rm -f ${first.root}`);
    const result = await executor.syncWorkspace(dir);
    assert.equal(result.sent, 1);
    assert.deepEqual(await remote(first.root), snapshot(dir));
  });

  test('a file the receiver wrote but never confirmed (its answer lost) is sent again once the folder has the old content back', async () => {
    const dropper = stdoutDropper();
    // The answers are lost from the receiver's own exec (a cut of the warm runtime's stream, which
    // the sync uses otherwise, is warmRuntimeSync.emulator.test.ts's).
    const lossy = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      startupTimeout: 30,
      warmRuntime: false,
      webSocketFactory: dropper.factory,
    });
    await lossy.start();
    try {
      const dir = freshDir();
      writeTree(dir, { 'config.txt': 'A\n' });
      const first = await lossy.syncWorkspace(dir);
      const original = snapshot(dir);
      writeFileSync(join(dir, 'config.txt'), 'B\n');
      dropper.dropNext();
      // The receiver puts B in place; its "ok" and "done" never arrive.
      await assert.rejects(lossy.syncWorkspace(dir), SyncError);
      assert.equal(
        await inPod(emulator.kubeconfigPath, lossy.podName, `cat ${first.root}/config.txt`),
        'B\n',
      );
      // Same size, the content the manifest last confirmed: only what the pod really holds decides.
      writeFileSync(join(dir, 'config.txt'), 'A\n');
      const again = await lossy.syncWorkspace(dir);
      assert.equal(again.sent, 1);
      const inThePod = await remoteSnapshot(
        emulator.kubeconfigPath,
        lossy.podName,
        first.root,
        join(scratch, `remote-${++folders}`),
      );
      assert.deepEqual(inThePod, original);
    } finally {
      await lossy.stop();
    }
  });

  test('a sync queued when stop() comes holds no watch afterwards', async () => {
    const other = newExecutor();
    await other.start();
    const dir = freshDir();
    writeTree(dir, { 'a/b/c.txt': 'c\n', 'd/e.txt': 'e\n' });
    const held = inotifyWatches();
    const syncs = [other.syncWorkspace(dir), other.syncWorkspace(dir)].map((sync) =>
      sync.catch(() => undefined),
    );
    await other.stop();
    await Promise.all(syncs);
    assert.equal(inotifyWatches(), held, 'no watch outlives stop()');
  });

  test('the watch budget is the whole process’s: a second large folder is walked, not watched', async () => {
    const held = inotifyWatches();
    const half = Math.ceil(maxWatchedFolders * 0.75);
    const [one, two] = [freshDir(), freshDir()];
    for (const dir of [one, two]) {
      for (let index = 0; index < half; index++) {
        mkdirSync(join(dir, `d${index}`), { recursive: true });
      }
      writeTree(dir, { 'd0/f.txt': 'f\n', 'd1/g.txt': 'g\n' });
      await executor.syncWorkspace(dir, { remoteRoot: `/workspace/budget-${basename(dir)}` });
    }
    assert.ok(inotifyWatches() - held <= maxWatchedFolders, `${inotifyWatches() - held} watches`);
    writeFileSync(join(two, 'd0/f.txt'), 'g\n');
    const again = await executor.syncWorkspace(two, {
      remoteRoot: `/workspace/budget-${basename(two)}`,
    });
    assert.deepEqual([again.checked, again.sent], [2, 1], 'the second folder is walked');
  });
});
