import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  PodCommandLineCodeExecutor,
  PodJupyterServer,
  SyncError,
  type SyncProgress,
} from '../../src/core/index.ts';
import { managedPodNames } from '../support/emulatorFixture.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { scratchDir } from '../support/scratch.ts';
import {
  inPod,
  pythonKeepAlive,
  remoteSnapshot,
  snapshot,
  minimalImages,
  writeTree,
  type TreeSpec,
} from '../support/syncHelpers.ts';

const scratch = scratchDir('pod-runner-sync-');
let folders = 0;
/** A new local folder; its name, and so its remote root, is new too. */
const freshDir = (name = 'project') => join(scratch, `case-${++folders}`, `${name}-${folders}`);

/** A project with every kind of name and entry a sync must carry, and what it must leave out. */
const projectTree: TreeSpec = {
  '.gitignore': 'node_modules/\n*.log\nbuild/\n!keep.log\n',
  'app/__init__.py': '',
  'app/main.py': 'from app.util import parse\nprint(parse())\n',
  'app/util.py': 'def parse():\n    return 42\n',
  'data/input.csv': 'a,b\n1,2\n',
  'data/sub/.gitignore': '*.tmp\n',
  'data/sub/cache.tmp': 'ignored',
  'data/sub/kept.txt': 'kept',
  'run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
  'with space/it\'s "quoted".txt': 'quoted',
  'new\nline.txt': 'newline in the name',
  'non-ascii/été 日本.md': 'unicode',
  'debug.log': 'ignored',
  'keep.log': 'kept by negation',
  'node_modules/pkg/index.js': 'ignored',
  'build/out.bin': 'ignored',
  'link-inside': { link: 'app/util.py' },
  'link-outside': { link: '/etc/hostname' },
};

const ignoredOrSkipped = [
  'data/sub/cache.tmp',
  'debug.log',
  'node_modules/pkg/index.js',
  'build/out.bin',
  'link-outside',
];

/** What the pod must hold: the local snapshot without what is ignored or skipped. */
function expectedSnapshot(dir: string, leftOut = ignoredOrSkipped): Record<string, string> {
  const all = snapshot(dir);
  for (const path of leftOut) {
    delete all[path];
  }
  return all;
}

describe(`workspace sync on ${backendName}`, () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const remote = (root: string, withFolders = false) =>
    remoteSnapshot(
      backend.kubeconfigPath,
      executor.podName,
      root,
      join(scratch, `remote-${++folders}`),
      withFolders,
    );

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200, images: { images: minimalImages } });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 30,
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
  });

  test('the first sync mirrors the folder: names, modes, in-tree symlinks; ignored and outside ones stay out', async () => {
    const dir = freshDir();
    writeTree(dir, projectTree);
    const progress: SyncProgress[] = [];
    const result = await executor.syncWorkspace(dir, { onProgress: (p) => progress.push(p) });
    assert.equal(result.root, `/workspace/${basename(dir)}`);
    assert.equal(result.localDir, dir);
    assert.equal(result.sent, 13);
    assert.equal(result.deleted, 0);
    assert.equal(result.unchanged, 0);
    assert.equal(result.apiCalls, 1, 'one exec: the receiver lists the root, then writes');
    assert.equal(result.receiver, 'python');
    assert.deepEqual(result.skipped, [
      { path: 'link-outside', reason: 'symlink points outside the folder (/etc/hostname)' },
    ]);
    assert.deepEqual(await remote(result.root), expectedSnapshot(dir));
    assert.equal(progress.length, 13);
    assert.deepEqual(progress.at(-1), { files: 13, bytes: result.bytes, total: 13 });
    assert.deepEqual(executor.syncedFolders, [{ local: dir, remote: result.root }]);
  });

  test('incremental: nothing changed costs no API call; one change one exec; a touch without change none', async () => {
    const dir = freshDir();
    writeTree(dir, projectTree);
    await executor.syncWorkspace(dir);
    const again = await executor.syncWorkspace(dir);
    assert.deepEqual(
      {
        apiCalls: again.apiCalls,
        sent: again.sent,
        deleted: again.deleted,
        unchanged: again.unchanged,
      },
      { apiCalls: 0, sent: 0, deleted: 0, unchanged: 13 },
    );
    assert.ok(again.ms < 1000, `took ${again.ms} ms`);

    writeFileSync(join(dir, 'app/util.py'), 'def parse():\n    return 43\n');
    const changed = await executor.syncWorkspace(dir);
    assert.deepEqual(
      { apiCalls: changed.apiCalls, sent: changed.sent, unchanged: changed.unchanged },
      { apiCalls: 1, sent: 1, unchanged: 12 },
    );
    assert.equal(changed.bytes, Buffer.byteLength('def parse():\n    return 43\n'));

    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'data/input.csv'), later, later);
    const touched = await executor.syncWorkspace(dir);
    assert.equal(touched.apiCalls, 0, 'same content: hashed locally, nothing sent');

    chmodSync(join(dir, 'app/main.py'), 0o755);
    const modeOnly = await executor.syncWorkspace(dir);
    assert.equal(modeOnly.sent, 1);
    assert.deepEqual(await remote(changed.root), expectedSnapshot(dir));
  });

  test('deletions travel, emptied folders go, and a file may turn into a folder', async () => {
    const dir = freshDir();
    writeTree(dir, projectTree);
    const first = await executor.syncWorkspace(dir);
    rmSync(join(dir, 'non-ascii'), { recursive: true });
    rmSync(join(dir, 'keep.log'));
    rmSync(join(dir, 'run.sh'));
    writeTree(dir, { 'run.sh/now-a-folder.txt': 'x' });
    const result = await executor.syncWorkspace(dir);
    assert.deepEqual(
      { deleted: result.deleted, sent: result.sent, apiCalls: result.apiCalls },
      { deleted: 3, sent: 1, apiCalls: 1 },
    );
    const after = await remote(first.root, true);
    assert.equal(after['non-ascii'], undefined, 'the emptied folder was removed');
    assert.equal(after['run.sh'], 'folder');
    const expected = expectedSnapshot(dir);
    assert.deepEqual(
      Object.fromEntries(Object.entries(after).filter(([, kind]) => kind !== 'folder')),
      expected,
    );
  });

  test('the manifest is trusted between syncs; verify compares with what the pod really holds', async () => {
    const dir = freshDir();
    writeTree(dir, projectTree);
    const { root } = await executor.syncWorkspace(dir);
    await inPod(
      backend.kubeconfigPath,
      executor.podName,
      `cd ${root} && echo changed > app/util.py && rm data/input.csv && echo extra > extra.txt && echo mine > debug.log && chmod 600 run.sh`,
    );
    const trusted = await executor.syncWorkspace(dir);
    assert.equal(trusted.apiCalls, 0);
    const verified = await executor.syncWorkspace(dir, { verify: true });
    assert.deepEqual(
      { sent: verified.sent, deleted: verified.deleted, apiCalls: verified.apiCalls },
      { sent: 3, deleted: 1, apiCalls: 2 },
    );
    const inThePod = await remote(root);
    assert.equal(
      inThePod['debug.log']?.startsWith('file'),
      true,
      'an ignored file of the pod stays',
    );
    delete inThePod['debug.log'];
    assert.deepEqual(inThePod, expectedSnapshot(dir));
  });

  test('a first sync into a root that holds files: extras go, ignored ones stay, files and symlinks in the way of folders are replaced', async () => {
    const dir = freshDir();
    writeTree(dir, projectTree);
    const root = `/workspace/${basename(dir)}`;
    await inPod(
      backend.kubeconfigPath,
      executor.podName,
      `mkdir -p ${root}/old/deep && cd ${root} && echo x > old/deep/extra.txt && echo mine > debug.log && echo file > app && ln -s /tmp data`,
    );
    const result = await executor.syncWorkspace(dir);
    assert.deepEqual(
      { sent: result.sent, deleted: result.deleted, apiCalls: result.apiCalls },
      { sent: 13, deleted: 3, apiCalls: 2 },
    );
    const inThePod = await remote(root, true);
    assert.equal(inThePod.old, undefined, 'the emptied folders went too');
    assert.equal(inThePod['debug.log']?.startsWith('file'), true, 'an ignored file stays');
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(inThePod).filter(
          ([path, kind]) => kind !== 'folder' && path !== 'debug.log',
        ),
      ),
      expectedSnapshot(dir),
    );
    assert.deepEqual(
      await inPod(
        backend.kubeconfigPath,
        executor.podName,
        'ls /tmp/app /tmp/util.py 2>&1 | wc -l',
      ),
      '2\n',
    );
  });

  test('concurrent syncs of one pod run one after the other', async () => {
    const dir = freshDir();
    writeTree(dir, projectTree);
    const [first, second, third] = await Promise.all([
      executor.syncWorkspace(dir),
      executor.syncWorkspace(dir),
      executor.syncWorkspace(dir),
    ]);
    assert.equal(first.sent, 13);
    assert.deepEqual([second.apiCalls, second.sent], [0, 0]);
    assert.deepEqual([third.apiCalls, third.sent], [0, 0]);
  });

  test('options: remoteRoot, exclude and maxFileBytes', async () => {
    const dir = freshDir();
    writeTree(dir, {
      'small.txt': 'small',
      'big.bin': 'x'.repeat(2000),
      'notes/draft.md': 'draft',
      'notes/final.md': 'final',
    });
    const result = await executor.syncWorkspace(dir, {
      remoteRoot: '/srv/elsewhere',
      exclude: ['draft*'],
      maxFileBytes: 1000,
    });
    assert.equal(result.root, '/srv/elsewhere');
    assert.deepEqual(result.skipped, [
      { path: 'big.bin', reason: 'larger than maxFileBytes (2000 > 1000 bytes)' },
    ]);
    assert.deepEqual(Object.keys(await remote('/srv/elsewhere')), ['notes/final.md', 'small.txt']);
    await assert.rejects(
      executor.syncWorkspace(dir, { remoteRoot: 'relative/path' }),
      /remoteRoot: must be an absolute POSIX path/,
    );
    await assert.rejects(
      executor.syncWorkspace(join(dir, 'missing')),
      (error: unknown) =>
        error instanceof SyncError && /^cannot sync .*missing: ENOENT/.test(error.message),
    );
    await assert.rejects(
      executor.syncWorkspace(join(dir, 'small.txt')),
      /^SyncError: cannot sync .*small\.txt: not a folder/,
    );
  });

  test('Download from Pod: a folder, a file, names kept, modes kept; a missing path is a clear error', async () => {
    const dir = freshDir();
    writeTree(dir, projectTree);
    const { root } = await executor.syncWorkspace(dir);
    const target = join(scratch, `download-${++folders}`);
    const folder = await executor.downloadFromPod(root, target);
    assert.equal(folder.localPath, join(target, basename(dir)));
    assert.equal(folder.files, 12);
    assert.deepEqual(snapshot(folder.localPath), expectedSnapshot(dir));
    const file = await executor.downloadFromPod(`${root}/new\nline.txt`, target);
    assert.equal(readFileSync(file.localPath, 'utf8'), 'newline in the name');
    const missing = await executor.downloadFromPod('/workspace/nothing-here', target).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(missing instanceof SyncError, String(missing));
    assert.match(missing.message, /\/workspace\/nothing-here: No such file or directory/);
  });

  test('a restart forgets the synced folders and the next sync lists the new pod', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a' });
    await executor.syncWorkspace(dir);
    assert.ok(executor.syncedFolders.some((folder) => folder.local === dir));
    await executor.restart();
    assert.deepEqual(executor.syncedFolders, []);
    const result = await executor.syncWorkspace(dir);
    assert.deepEqual([result.apiCalls, result.sent], [1, 1]);
  });

  const inspector = 'inspector';
  for (const [image, receiver, command] of [
    ['busybox-sh-only', 'sh dd', undefined],
    ['dash-gnu-head', 'sh head', undefined],
    ['python-only', 'python', pythonKeepAlive],
  ] as const) {
    test(`an image with ${image.replace(/-/g, ' ')}: the ${receiver} receiver syncs, updates, deletes, verifies and downloads`, async () => {
      // The image has no tar (python-only not even a shell): the test looks at the workspace
      // through a busybox container that shares it.
      const workspace = { name: 'workspace', mountPath: '/workspace' };
      const subject = new PodCommandLineCodeExecutor({
        kubeconfig: backend.kubeconfigPath,
        startupTimeout: 30,
        podSpec: {
          spec: {
            containers: [
              {
                name: 'autogen-executor',
                image,
                workingDir: '/workspace',
                volumeMounts: [workspace],
                ...(command ? { command: [...command] } : {}),
              },
              {
                name: inspector,
                image: 'busybox',
                command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
                volumeMounts: [workspace],
              },
            ],
            volumes: [{ name: 'workspace', emptyDir: {} }],
          },
        },
      });
      const look = (script: string) =>
        inPod(backend.kubeconfigPath, subject.podName, script, inspector);
      await subject.start();
      try {
        const dir = freshDir();
        writeTree(dir, {
          ...projectTree,
          'large.bin': 'L'.repeat(3 * 1024 * 1024 + 7),
          '-starts-with-a-dash': 'dash',
          'dash-link': { link: '-starts-with-a-dash' },
        });
        // The root already holds an extra file, a file where a folder goes, a symlink out.
        await look(
          `mkdir -p /workspace/${basename(dir)} && cd /workspace/${basename(dir)} && echo x > extra && echo x > app && ln -s /tmp data`,
        );
        const first = await subject.syncWorkspace(dir);
        assert.equal(first.receiver, receiver);
        assert.deepEqual([first.sent, first.deleted], [16, 3]);
        const snapshotOf = () =>
          remoteSnapshot(
            backend.kubeconfigPath,
            subject.podName,
            first.root,
            join(scratch, `remote-${++folders}`),
            false,
            inspector,
          );
        assert.deepEqual(await snapshotOf(), expectedSnapshot(dir));
        writeFileSync(join(dir, 'app/util.py'), 'changed\n');
        rmSync(join(dir, 'with space'), { recursive: true });
        const second = await subject.syncWorkspace(dir);
        assert.deepEqual([second.apiCalls, second.sent, second.deleted], [1, 1, 1]);
        assert.deepEqual(await snapshotOf(), expectedSnapshot(dir));
        // Modes without an execute bit are created exact (no chmod); others are set after.
        writeTree(dir, {
          'private.txt': { content: 'p\n', mode: 0o600 },
          'shared.txt': { content: 's\n', mode: 0o640 },
          'readonly.txt': { content: 'r\n', mode: 0o444 },
          'tool.sh': { content: '#!/bin/sh\n', mode: 0o750 },
        });
        const modes = await subject.syncWorkspace(dir);
        assert.deepEqual([modes.apiCalls, modes.sent], [1, 4]);
        assert.deepEqual(await snapshotOf(), expectedSnapshot(dir));
        await look(`echo extra > ${first.root}/extra`);
        const verified = await subject.syncWorkspace(dir, { verify: true });
        assert.equal(verified.deleted, 1);
        // Python compares hashes; sh cannot, so it sends everything again.
        assert.equal(verified.sent, receiver === 'python' ? 0 : 19);
        assert.deepEqual(await snapshotOf(), expectedSnapshot(dir));
        const target = join(scratch, `download-${++folders}`);
        const downloaded = await subject.downloadFromPod(`${first.root}/app`, target);
        assert.deepEqual(snapshot(downloaded.localPath), snapshot(join(dir, 'app')));
      } finally {
        await subject.stop();
      }
    });
  }

  test("PodJupyterServer: the gateway's pod is synced and downloaded from the same way", async () => {
    const server = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 60,
    });
    await server.start();
    try {
      const dir = freshDir('notebooks');
      writeTree(dir, projectTree);
      const result = await server.syncWorkspace(dir);
      assert.equal(result.root, `/workspace/${basename(dir)}`);
      assert.equal(result.sent, 13);
      assert.deepEqual(
        await remoteSnapshot(
          backend.kubeconfigPath,
          server.podName,
          result.root,
          join(scratch, `remote-${++folders}`),
        ),
        expectedSnapshot(dir),
      );
      assert.deepEqual(server.syncedFolders, [{ local: dir, remote: result.root }]);
      assert.equal((await server.syncWorkspace(dir)).apiCalls, 0);
      const target = join(scratch, `download-${++folders}`);
      mkdirSync(target);
      const file = await server.downloadFromPod(`${result.root}/data/input.csv`, target);
      assert.equal(readFileSync(file.localPath, 'utf8'), 'a,b\n1,2\n');
    } finally {
      await server.stop();
    }
    assert.deepEqual(server.syncedFolders, []);
  });
});
