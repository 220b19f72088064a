import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdirSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  PodCommandLineCodeExecutor,
  PodRunnerError,
  SyncError,
  type LocalFileSystem,
} from '../../src/core/index.ts';
import { nodeFileSystem } from '../../src/core/workspaceSync/localTree.ts';
import { apiRequest, eventually, managedPodNames } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
import { scratchDir } from '../support/scratch.ts';
import {
  inPod,
  remoteSnapshot,
  snapshot,
  stdinGate,
  minimalImages,
  writeTree,
} from '../support/syncHelpers.ts';

const scratch = scratchDir('pod-runner-sync-bad-');
let cases = 0;
const freshDir = () => join(scratch, `case-${++cases}`, `project-${cases}`);

/** The local file calls, with `beforeRead(path)` run before each file is read. */
function withReadHook(beforeRead: (path: string) => void): LocalFileSystem {
  return {
    ...nodeFileSystem,
    readFile: (path) => {
      beforeRead(path);
      return nodeFileSystem.readFile(path);
    },
  };
}

/** Files of `size` bytes each, enough to span several 1 MiB stdin frames. */
function bulkyTree(dir: string, count: number, size: number): void {
  writeTree(
    dir,
    Object.fromEntries(
      Array.from({ length: count }, (_, i) => [
        `part-${String(i).padStart(2, '0')}.bin`,
        String(i % 10).repeat(size),
      ]),
    ),
  );
}

const settle = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );

describe('sync with bad input', () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const gate = stdinGate();
  const remote = (root: string, pod = executor.podName) =>
    remoteSnapshot(backend.kubeconfigPath, pod, root, join(scratch, `remote-${++cases}`));
  const leftovers = async (root: string) =>
    (
      await inPod(
        backend.kubeconfigPath,
        executor.podName,
        `find ${root} -name '.podrunner-sync.*' | wc -l`,
      )
    ).trim();

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200, images: { images: minimalImages } });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 30,
      webSocketFactory: gate.factory,
    });
    await executor.start();
  });

  after(async () => {
    gate.release();
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
  });

  test('an unreadable file is skipped and reported, the rest arrives, and it follows once readable', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a', 'secret.txt': 'secret', 'z.txt': 'z' });
    const fileSystem = withReadHook((path) => {
      if (basename(path) === 'secret.txt') {
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      }
    });
    const result = await executor.syncWorkspace(dir, { fileSystem });
    assert.deepEqual(result.skipped, [{ path: 'secret.txt', reason: 'not readable (EACCES)' }]);
    assert.deepEqual(Object.keys(await remote(result.root)), ['a.txt', 'z.txt']);
    const later = await executor.syncWorkspace(dir);
    assert.deepEqual([later.sent, later.apiCalls], [1, 1]);
    assert.deepEqual(await remote(result.root), snapshot(dir));
  });

  test('symlink loops are skipped and reported; the rest arrives', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a' });
    symlinkSync('self', join(dir, 'self'));
    symlinkSync('loop-b', join(dir, 'loop-a'));
    symlinkSync('loop-a', join(dir, 'loop-b'));
    symlinkSync('.', join(dir, 'here'));
    const result = await executor.syncWorkspace(dir);
    assert.deepEqual(
      result.skipped.map((skip) => [skip.path, skip.reason]),
      [
        ['loop-a', 'symlink loop (loop-b)'],
        ['loop-b', 'symlink loop (loop-a)'],
        ['self', 'symlink loop (self)'],
      ],
    );
    assert.deepEqual(await remote(result.root), {
      'a.txt': snapshot(dir)['a.txt'],
      here: 'link .',
    });
  });

  test('a file deleted during the sync is reported, never recorded, and its deletion follows', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
    const first = await executor.syncWorkspace(dir);
    writeFileSync(join(dir, 'a.txt'), 'a2');
    writeFileSync(join(dir, 'b.txt'), 'b2');
    writeTree(dir, { 'new.txt': 'new' });
    const fileSystem = withReadHook((path) => {
      if (basename(path) === 'a.txt') {
        unlinkSync(join(dir, 'b.txt'));
        unlinkSync(join(dir, 'new.txt'));
      }
    });
    const result = await executor.syncWorkspace(dir, { fileSystem });
    assert.deepEqual(result.skipped, [
      { path: 'b.txt', reason: 'deleted during the sync' },
      { path: 'new.txt', reason: 'deleted during the sync' },
    ]);
    assert.equal(result.sent, 1);
    const next = await executor.syncWorkspace(dir);
    assert.deepEqual([next.deleted, next.sent], [1, 0]);
    assert.deepEqual(await remote(first.root), snapshot(dir));
  });

  test('a file growing during the sync arrives as read, and the next sync sees it is current', async () => {
    const dir = freshDir();
    writeTree(dir, { 'log.txt': 'start\n' });
    const fileSystem = withReadHook((path) => {
      if (basename(path) === 'log.txt') {
        appendFileSync(path, 'grown\n'.repeat(1000));
      }
    });
    const result = await executor.syncWorkspace(dir, { fileSystem });
    assert.equal(result.bytes, 6 + 6000);
    assert.deepEqual(await remote(result.root), snapshot(dir));
    const next = await executor.syncWorkspace(dir);
    assert.deepEqual([next.apiCalls, next.sent, next.unchanged], [0, 0, 1]);
  });

  test('a 1 GB file is skipped by maxFileBytes without being read', async () => {
    const dir = freshDir();
    writeTree(dir, { 'small.txt': 'small' });
    writeFileSync(join(dir, 'huge.bin'), '');
    truncateSync(join(dir, 'huge.bin'), 1024 ** 3);
    const read: string[] = [];
    const result = await executor.syncWorkspace(dir, {
      fileSystem: withReadHook((path) => read.push(basename(path))),
    });
    assert.deepEqual(result.skipped, [
      { path: 'huge.bin', reason: 'larger than maxFileBytes (1073741824 > 52428800 bytes)' },
    ]);
    assert.deepEqual(read, ['small.txt']);
    assert.deepEqual(Object.keys(await remote(result.root)), ['small.txt']);
  });

  test(
    '50,000 files arrive in one exec, and a re-sync costs nothing',
    { timeout: 180_000 },
    async () => {
      const dir = freshDir();
      for (let folder = 0; folder < 100; folder++) {
        mkdirSync(join(dir, `d${folder}`), { recursive: true });
        for (let file = 0; file < 500; file++) {
          writeFileSync(join(dir, `d${folder}`, `f${file}.txt`), `${folder}/${file}\n`);
        }
      }
      const result = await executor.syncWorkspace(dir);
      assert.deepEqual([result.sent, result.apiCalls, result.skipped.length], [50_000, 1, 0]);
      const counted = await inPod(
        backend.kubeconfigPath,
        executor.podName,
        `find ${result.root} -type f | wc -l; cat ${result.root}/d99/f499.txt`,
      );
      assert.equal(counted, '50000\n99/499\n');
      const again = await executor.syncWorkspace(dir);
      assert.deepEqual([again.apiCalls, again.sent, again.unchanged], [0, 0, 50_000]);
    },
  );

  test('paths with newlines arrive exactly, folders included, and come back by download', async () => {
    const dir = freshDir();
    writeTree(dir, { 'line\nbreak/file\nname.txt': 'x', 'trailing\n': 'y', ' lead': 'z' });
    const result = await executor.syncWorkspace(dir);
    assert.equal(result.sent, 3);
    assert.deepEqual(await remote(result.root), snapshot(dir));
    const target = join(scratch, `download-${++cases}`);
    const downloaded = await executor.downloadFromPod(result.root, target);
    assert.deepEqual(snapshot(downloaded.localPath), snapshot(dir));
  });

  // sysfs is read-only in a container, on a real node (runc) as in the emulator.
  const readOnlyRoot = '/sys/pod-runner-sync';
  for (const image of ['python:3-slim', 'busybox-sh-only']) {
    test(`a remote root that is not writable (${image}): a clear error naming it, nothing recorded`, async () => {
      const subject =
        image === 'python:3-slim'
          ? executor
          : new PodCommandLineCodeExecutor({
              kubeconfig: backend.kubeconfigPath,
              image,
              startupTimeout: 30,
            });
      await subject.start();
      try {
        const dir = freshDir();
        writeTree(dir, { 'a.txt': 'a' });
        const outcome = await settle(subject.syncWorkspace(dir, { remoteRoot: readOnlyRoot }));
        assert.ok(outcome.error instanceof SyncError, String(outcome.error));
        assert.match(
          outcome.error.message,
          /could not write the remote root \/sys\/pod-runner-sync in pod/,
        );
        assert.match(outcome.error.message, /Read-only file system|cannot create/);
        assert.equal(outcome.error.path, readOnlyRoot);
        assert.ok(!subject.syncedFolders.some((folder) => folder.local === dir));
        const retried = await settle(subject.syncWorkspace(dir, { remoteRoot: readOnlyRoot }));
        assert.ok(retried.error instanceof SyncError, 'nothing was recorded as synced');
      } finally {
        if (subject !== executor) {
          await subject.stop();
        }
      }
    });
  }

  test('cancel mid-sync: the sync ends at once, nothing half-written, and the next sync sends the rest', async () => {
    const dir = freshDir();
    bulkyTree(dir, 12, 300_000);
    const controller = new AbortController();
    let confirmed = 0;
    let firstConfirmed!: () => void;
    const someConfirmed = new Promise<void>((resolve) => (firstConfirmed = resolve));
    const held = gate.holdNext();
    const syncing = settle(
      executor.syncWorkspace(dir, {
        signal: controller.signal,
        onProgress: (progress) => {
          confirmed = progress.files;
          firstConfirmed();
        },
      }),
    );
    await held;
    await someConfirmed;
    controller.abort();
    const outcome = await syncing;
    gate.release();
    assert.equal((outcome.error as Error | undefined)?.name, 'AbortError');
    assert.ok(confirmed > 0 && confirmed < 12, `confirmed ${confirmed}`);
    const root = `/workspace/${basename(dir)}`;
    await eventually(async () => (await leftovers(root)) === '0', 15_000, 'no temporary file');
    const inThePod = await remote(root);
    const local = snapshot(dir);
    for (const [path, entry] of Object.entries(inThePod)) {
      assert.equal(entry, local[path], `${path} in the pod is complete`);
    }
    const next = await executor.syncWorkspace(dir);
    assert.equal(next.sent, 12 - confirmed);
    assert.deepEqual(await remote(root), local);
  });

  test('the pod deleted mid-sync: a clear error in bounded time, and only confirmed files recorded', async () => {
    const subject = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 30,
      webSocketFactory: gate.factory,
    });
    await subject.start();
    try {
      const dir = freshDir();
      bulkyTree(dir, 12, 300_000);
      let firstConfirmed!: () => void;
      const someConfirmed = new Promise<void>((resolve) => (firstConfirmed = resolve));
      const held = gate.holdNext();
      const started = Date.now();
      const syncing = settle(subject.syncWorkspace(dir, { onProgress: () => firstConfirmed() }));
      await held;
      await someConfirmed;
      await apiRequest(backend, 'DELETE', `/api/v1/namespaces/default/pods/${subject.podName}`);
      await eventually(
        async () => !(await managedPodNames(backend)).includes(subject.podName),
        30_000,
        'the pod is gone',
      );
      gate.release();
      const outcome = await syncing;
      assert.ok(Date.now() - started < 40_000);
      assert.ok(outcome.error instanceof PodRunnerError, String(outcome.error));
      assert.match(outcome.error.message, new RegExp(`pod ${subject.podName}`));
      assert.deepEqual(subject.syncedFolders, []);
    } finally {
      gate.release();
      await subject.stop();
    }
  });
});
