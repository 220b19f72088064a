import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PodCommandLineCodeExecutor, SyncError } from '../../src/core/index.ts';
import { nodeFileSystem } from '../../src/core/workspaceSync/localTree.ts';
import { eventually, execFileAsync, withEmulator } from '../support/emulatorFixture.ts';
import { scratchDir } from '../support/scratch.ts';
import { stallingProxyFor, type StallingProxy } from '../support/stallingProxy.ts';
import { inPod, stdinGate, minimalImages, writeTree } from '../support/syncHelpers.ts';

/** What a pod (its user code, or whoever replaced it) does to the files a sync wrote. */

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

const scratch = scratchDir('pod-runner-sync-hostile-');
let cases = 0;
const freshDir = () => join(scratch, `case-${++cases}`, `project-${cases}`);

const settle = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );

describe('sync against a pod that changed under it', () => {
  let emulator: Emulator;
  const executors = new Map<string, PodCommandLineCodeExecutor>();
  const gate = stdinGate();
  const executorFor = async (image: string) => {
    let executor = executors.get(image);
    if (!executor) {
      executor = new PodCommandLineCodeExecutor({
        kubeconfig: emulator.kubeconfigPath,
        image,
        startupTimeout: 30,
        webSocketFactory: gate.factory,
      });
      executors.set(image, executor);
      await executor.start();
    }
    return executor;
  };
  const shell = (executor: PodCommandLineCodeExecutor, script: string) =>
    inPod(emulator.kubeconfigPath, executor.podName, script);

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200, images: { images: minimalImages } });
  });

  after(async () => {
    gate.release();
    await Promise.all([...executors.values()].map((executor) => executor.stop()));
    await emulator.verifyNoLeaks();
  });

  for (const image of ['python-only', 'busybox-sh-only']) {
    test(`a deletion under a folder the pod turned into a symlink leaves its target alone (${image})`, async () => {
      const executor = await executorFor(image);
      const dir = freshDir();
      writeTree(dir, { 'data/mine.txt': 'mine', 'keep.txt': 'k' });
      const first = await executor.syncWorkspace(dir);
      const outside = `/tmp/outside-${cases}`;
      await shell(
        executor,
        `mkdir -p ${outside} && echo precious > ${outside}/mine.txt && rm -rf ${first.root}/data && ln -s ${outside} ${first.root}/data`,
      );
      rmSync(join(dir, 'data'), { recursive: true });
      const second = await executor.syncWorkspace(dir);
      assert.equal(second.deleted, 1, 'the path is gone from the root: dropped from the manifest');
      assert.equal(
        await shell(executor, `cat ${outside}/mine.txt; readlink ${first.root}/data`),
        `precious\n${outside}\n`,
      );
      assert.equal((await executor.syncWorkspace(dir)).apiCalls, 0);
    });
  }

  for (const image of ['python-only', 'busybox-sh-only', 'dash-gnu-head']) {
    test(`a local folder turned into a file replaces the pod's folder, outputs and all (${image})`, async () => {
      const executor = await executorFor(image);
      const dir = freshDir();
      writeTree(dir, { 'x/a.txt': 'a' });
      const first = await executor.syncWorkspace(dir);
      await shell(executor, `echo out > ${first.root}/x/out.log`);
      rmSync(join(dir, 'x'), { recursive: true });
      writeTree(dir, { x: 'now a file' });
      const second = await executor.syncWorkspace(dir);
      assert.deepEqual([second.sent, second.deleted], [1, 1]);
      assert.equal(await shell(executor, `cat ${first.root}/x`), 'now a file');
      assert.equal((await executor.syncWorkspace(dir)).apiCalls, 0);
    });
  }

  test('a receiver killed mid-file: "killed" in the error, and its temporary file goes with the next sync', async () => {
    const executor = await executorFor('python-only');
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 1));
    const root = `/workspace/project-${cases}`;
    const held = gate.holdNext();
    const syncing = settle(executor.syncWorkspace(dir));
    await held;
    await eventually(async () => /podrunner-sync/.test(await shell(executor, `ls -A ${root}`)));
    await shell(
      executor,
      `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q 'podrunner[-]sync' && kill -9 \${p#/proc/}; done; true`,
    );
    gate.release();
    const { error } = await syncing;
    assert.ok(error instanceof SyncError, String(error));
    assert.match(error.message, /the receiver was killed \(exit code 137\)/);
    writeFileSync(join(dir, 'small.txt'), 's');
    await executor.syncWorkspace(dir);
    assert.equal(await shell(executor, `ls -A ${root}`), 'big.bin\nsmall.txt\n');
  });

  test('a remote root inside (or around) another folder’s is refused, the other left alone', async () => {
    const executor = await executorFor('python-only');
    const other = freshDir();
    writeTree(other, { 'precious.txt': 'p' });
    const synced = await executor.syncWorkspace(other);
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a' });
    for (const remoteRoot of ['/workspace', `${synced.root}/inner`, synced.root]) {
      await assert.rejects(
        executor.syncWorkspace(dir, { remoteRoot }),
        (error: unknown) => error instanceof SyncError && /: it overlaps \//.test(error.message),
      );
    }
    assert.equal(await shell(executor, `cat ${synced.root}/precious.txt`), 'p');
    assert.equal((await executor.syncWorkspace(dir, { remoteRoot: '/workspace-b' })).sent, 1);
  });

  test('a sync cancelled during its local walk rejects', async () => {
    const executor = await executorFor('python-only');
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a' });
    await executor.syncWorkspace(dir);
    // Nothing changed: without a check after the walk, no exec would notice the cancel.
    const controller = new AbortController();
    const fileSystem = {
      ...nodeFileSystem,
      readdir: (path: string, options: { withFileTypes: true }) => {
        controller.abort();
        return nodeFileSystem.readdir(path, options);
      },
    };
    await assert.rejects(executor.syncWorkspace(dir, { signal: controller.signal, fileSystem }), {
      name: 'AbortError',
    });
  });

  test('Download from Pod writes as it reads: a 300 MB file never sits in memory', async () => {
    const executor = await executorFor('python-only');
    const folder = `/tmp/big-${++cases}`;
    await shell(executor, `mkdir -p ${folder} && truncate -s 300M ${folder}/blob.bin`);
    const target = join(scratch, `download-${cases}`);
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      const result = await executor.downloadFromPod(folder, target);
      assert.equal(result.bytes, 300 * 2 ** 20);
    } finally {
      clearInterval(sampler);
      rmSync(target, { recursive: true, force: true });
      await shell(executor, `rm -rf ${folder}`);
    }
    const grewMb = Math.round((peak - base) / 2 ** 20);
    assert.ok(grewMb < 150, `the RSS grew by ${grewMb} MB`);
  });

  test('a pod replaced by another of the same name gets everything again at the next sync', async () => {
    const executor = await executorFor('python-only');
    const kubeconfig = emulator.kubeconfigPath;
    const kubectl = (...args: string[]) =>
      execFileAsync('kubectl', ['--kubeconfig', kubeconfig, ...args]);
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a', 'b/c.txt': 'c' });
    const first = await executor.syncWorkspace(dir);
    const pod = JSON.parse(
      (await kubectl('get', 'pod', executor.podName, '-o', 'json')).stdout,
    ) as {
      metadata: Record<string, unknown>;
      spec: unknown;
    };
    await kubectl('delete', 'pod', executor.podName, '--wait=true');
    const file = join(scratch, `pod-${cases}.json`);
    const { name, namespace, labels, annotations } = pod.metadata;
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, labels, annotations },
        spec: pod.spec,
      }),
    );
    await kubectl('create', '-f', file);
    await kubectl('wait', '--for=condition=Ready', `pod/${executor.podName}`, '--timeout=60s');
    writeTree(dir, { 'a.txt': 'a changed' });
    const second = await executor.syncWorkspace(dir);
    assert.equal(second.sent, 2, 'the new pod got every file, not only the changed one');
    assert.equal(
      await shell(executor, `cat ${first.root}/a.txt ${first.root}/b/c.txt`),
      'a changedc',
    );
    assert.equal((await executor.syncWorkspace(dir)).apiCalls, 0);
  });
});

describe('sync and download through a server that stops answering', () => {
  let emulator: Emulator;
  let proxy: StallingProxy;
  let executor: PodCommandLineCodeExecutor;

  before(async () => {
    emulator = await withEmulator();
    const through = await stallingProxyFor(emulator);
    proxy = through.proxy;
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: through.kubeConfig,
      startupTimeout: 30,
    });
    await executor.start();
  });

  after(async () => {
    proxy.resume();
    await executor.stop();
    await proxy.close();
    await emulator.verifyNoLeaks();
  });

  test('the idle deadline fails a stalled sync and download naming the pod; a queued sync cancels at once', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a' });
    proxy.stall();
    let firstSettled = false;
    const first = settle(executor.syncWorkspace(dir, { idleTimeoutMs: 1500 })).finally(
      () => (firstSettled = true),
    );
    const controller = new AbortController();
    const queued = settle(executor.syncWorkspace(dir, { signal: controller.signal }));
    controller.abort();
    const { error: queuedError } = await queued;
    assert.equal((queuedError as Error | undefined)?.name, 'AbortError');
    assert.equal(firstSettled, false, 'the queued sync did not wait for the stalled one');
    const { error } = await first;
    assert.ok(error instanceof SyncError, String(error));
    assert.match(error.message, new RegExp(`pod ${executor.podName} did not answer for 1.5 s`));
    const download = await settle(
      executor.downloadFromPod('/etc/hostname', join(scratch, 'stalled'), { idleTimeoutMs: 1500 }),
    );
    assert.ok(download.error instanceof SyncError, String(download.error));
    assert.match(download.error.message, new RegExp(`pod ${executor.podName} did not answer`));
    proxy.resume();
  });
});
