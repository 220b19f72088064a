import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, stat, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PodCommandLineCodeExecutor } from '../../src/core/index.ts';
import { maxWatchedFolders } from '../../src/core/workspaceSync/treeWatch.ts';
import { managedPodNames, withEmulator } from '../support/emulatorFixture.ts';
import { scratchDir } from '../support/scratch.ts';
import { inotifyWatches, remoteSnapshot, snapshot, writeTree } from '../support/syncHelpers.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

const scratch = scratchDir('pod-runner-sync-watch-');
let folders = 0;
const freshDir = () => join(scratch, `case-${++folders}`, `project-${folders}`);

/** Runs `step` from an I/O callback: the poll phase of the event loop, where a write's event is not read yet. */
const fromIoCallback = <T>(step: () => Promise<T>) =>
  new Promise<T>((resolve, reject) =>
    stat(scratch, () => {
      step().then(resolve, reject);
    }),
  );

describe('workspace sync follows the folder through its watches (Linux)', () => {
  let emulator: Emulator;
  let executor: PodCommandLineCodeExecutor;
  const remote = (root: string) =>
    remoteSnapshot(
      emulator.kubeconfigPath,
      executor.podName,
      root,
      join(scratch, `remote-${++folders}`),
    );

  before(async () => {
    emulator = await withEmulator();
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      startupTimeout: 30,
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours is left behind');
    await emulator.verifyNoLeaks();
  });

  test('after the first sync, a re-sync looks only at the files written since', async () => {
    const dir = freshDir();
    const tree: Record<string, string> = { '.gitignore': 'build/\n' };
    for (let index = 0; index < 60; index++) {
      tree[`pkg${index % 3}/module${index}.py`] = `value = ${index}\n`;
    }
    writeTree(dir, tree);
    const first = await executor.syncWorkspace(dir);
    assert.equal(first.checked, 61);
    const idle = await executor.syncWorkspace(dir);
    assert.deepEqual([idle.checked, idle.apiCalls, idle.sent], [0, 0, 0]);
    writeFileSync(join(dir, 'pkg0/module0.py'), 'value = "zero"\n');
    writeFileSync(join(dir, 'pkg2/module5.py'), 'value = "five"\n');
    const edited = await executor.syncWorkspace(dir);
    assert.deepEqual([edited.checked, edited.apiCalls, edited.sent], [2, 1, 2]);
    assert.deepEqual(await remote(first.root), snapshot(dir));
  });

  test('a write made in an I/O callback just before the sync is always sent', async () => {
    const dir = freshDir();
    writeTree(dir, { 'app/state.txt': 'start\n' });
    const first = await executor.syncWorkspace(dir);
    for (let round = 0; round < 30; round++) {
      const result = await fromIoCallback(() => {
        writeFileSync(join(dir, 'app/state.txt'), `round ${round}\n`);
        return executor.syncWorkspace(dir);
      });
      assert.deepEqual([round, result.checked, result.sent], [round, 1, 1]);
    }
    assert.deepEqual(await remote(first.root), { 'app/state.txt': snapshot(dir)['app/state.txt'] });
  });

  test('a rewrite with the same size and mtime (one clock tick) is compared by content and sent', async () => {
    const dir = freshDir();
    writeTree(dir, { 'data.csv': 'a,1\n' });
    // Both versions get the same whole-second mtime, as two writes within one tick would.
    const tick = 1_700_000_000;
    utimesSync(join(dir, 'data.csv'), tick, tick);
    const first = await executor.syncWorkspace(dir);
    const before = statSync(join(dir, 'data.csv'));
    writeFileSync(join(dir, 'data.csv'), 'b,2\n');
    utimesSync(join(dir, 'data.csv'), tick, tick);
    const rewritten = statSync(join(dir, 'data.csv'));
    assert.deepEqual([rewritten.size, rewritten.mtimeMs], [before.size, before.mtimeMs]);
    const result = await executor.syncWorkspace(dir);
    assert.deepEqual([result.checked, result.sent], [1, 1]);
    assert.deepEqual(await remote(first.root), snapshot(dir));
  });

  test('one folder synced to two roots: a write that one root received still reaches the other', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.py': 'a\n', 'b.py': 'b\n' });
    const [rootA, rootB] = ['a', 'b'].map((name) => `/workspace/two-roots-${folders}-${name}`);
    await executor.syncWorkspace(dir, { remoteRoot: rootA! });
    writeFileSync(join(dir, 'a.py'), 'a2\n');
    // The sync to the other root takes the write's event; this root has still to get it.
    const toB = await executor.syncWorkspace(dir, { remoteRoot: rootB! });
    assert.equal(toB.sent, 2);
    const inB = snapshot(dir);
    const toA = await executor.syncWorkspace(dir, { remoteRoot: rootA! });
    assert.deepEqual([toA.sent, toA.apiCalls], [1, 1]);
    const idle = await executor.syncWorkspace(dir, { remoteRoot: rootA! });
    assert.deepEqual([idle.sent, idle.apiCalls], [0, 0]);
    writeFileSync(join(dir, 'b.py'), 'b2\n');
    const onlyA = await executor.syncWorkspace(dir, { remoteRoot: rootA! });
    assert.deepEqual([onlyA.sent, onlyA.checked], [1, 1]);
    assert.deepEqual(await remote(rootA!), snapshot(dir));
    assert.deepEqual(await remote(rootB!), inB);
  });

  test('created, deleted and renamed files, new folders and .gitignore edits walk the folder again', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.py': 'a\n', 'b.py': 'b\n', 'keep/c.py': 'c\n' });
    const first = await executor.syncWorkspace(dir);
    writeFileSync(join(dir, 'new.py'), 'new\n');
    const created = await executor.syncWorkspace(dir);
    assert.deepEqual([created.checked, created.sent, created.deleted], [4, 1, 0]);
    rmSync(join(dir, 'a.py'));
    const deleted = await executor.syncWorkspace(dir);
    assert.deepEqual([deleted.checked, deleted.sent, deleted.deleted], [3, 0, 1]);
    renameSync(join(dir, 'b.py'), join(dir, 'keep/b.py'));
    const renamed = await executor.syncWorkspace(dir);
    assert.deepEqual([renamed.sent, renamed.deleted], [1, 1]);
    writeTree(dir, { 'later/deep/d.py': 'd\n' });
    const folder = await executor.syncWorkspace(dir);
    assert.equal(folder.sent, 1);
    // The new folders are watched from that walk on.
    writeFileSync(join(dir, 'later/deep/d.py'), 'd2\n');
    const inNewFolder = await executor.syncWorkspace(dir);
    assert.deepEqual([inNewFolder.checked, inNewFolder.sent], [1, 1]);
    writeFileSync(join(dir, '.gitignore'), 'keep/\n');
    const ignored = await executor.syncWorkspace(dir);
    assert.deepEqual([ignored.sent, ignored.deleted], [1, 2], '.gitignore sent, keep/ removed');
    const expected = Object.fromEntries(
      Object.entries(snapshot(dir)).filter(([path]) => !path.startsWith('keep/')),
    );
    assert.deepEqual(await remote(first.root), expected, 'the pod mirrors the folder');
  });

  test('an ignore file above the folder is re-checked at every sync', async () => {
    const repository = join(scratch, `case-${++folders}`, 'repository');
    const dir = join(repository, 'project');
    writeTree(repository, {
      '.git/info/exclude': '',
      'project/app.py': 'a\n',
      'project/notes.txt': 'n\n',
    });
    const first = await executor.syncWorkspace(dir);
    assert.equal(first.sent, 2);
    writeFileSync(join(repository, '.git/info/exclude'), 'notes.txt\n');
    const excluded = await executor.syncWorkspace(dir);
    assert.deepEqual([excluded.deleted, excluded.checked], [1, 1]);
    assert.deepEqual(Object.keys(await remote(first.root)), ['app.py']);
  });

  test('a folder with more folders than the watch budget is walked each time, and holds no watch', async () => {
    const dir = freshDir();
    for (let index = 0; index <= maxWatchedFolders; index++) {
      mkdirSync(join(dir, `d${index}`), { recursive: true });
    }
    writeTree(dir, { 'd0/f.txt': 'f\n' });
    const held = inotifyWatches();
    const first = await executor.syncWorkspace(dir);
    assert.equal(first.sent, 1);
    assert.equal(inotifyWatches(), held, 'the watches were given up');
    writeFileSync(join(dir, 'd0/f.txt'), 'g\n');
    const again = await executor.syncWorkspace(dir);
    assert.deepEqual([again.checked, again.sent], [1, 1], 'walked: every file looked at');
  });

  test('stop() closes every watch the syncs opened', async () => {
    const other = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      startupTimeout: 30,
    });
    const held = inotifyWatches();
    await other.start();
    try {
      const dir = freshDir();
      writeTree(dir, { 'a/b/c.txt': 'c\n', 'd/e.txt': 'e\n' });
      await other.syncWorkspace(dir);
      assert.equal(inotifyWatches(), held + 4, 'one watch per folder: the root, a, a/b, d');
    } finally {
      await other.stop();
    }
    assert.equal(inotifyWatches(), held);
  });
});
