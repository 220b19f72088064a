import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { PodCommandLineCodeExecutor, SyncError } from '../../src/core/index.ts';
import { PodExecClient, type WebSocketFactory } from '../../src/core/podExec.ts';
import { clientFrame, runtimeMarker } from '../../src/core/warmRuntime/runtimeProgram.ts';
import { RuntimeStream } from '../../src/core/warmRuntime/runtimeStream.ts';
import { eventually } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
import { scratchDir } from '../support/scratch.ts';
import { inPod, remoteSnapshot, snapshot, writeTree } from '../support/syncHelpers.ts';

const scratch = scratchDir('pod-runner-warm-sync-');
let cases = 0;
const freshDir = () => join(scratch, `case-${++cases}`, `project-${cases}`);

/**
 * Counts the execs opened, the warm runtime's told apart by its marker. `atNextStdin(action)`
 * runs `action` with the runtime's socket when the next stdin frame for a block is about to be
 * sent (the frame is not sent when the action cut the socket).
 */
function watchedExecs() {
  const urls: string[] = [];
  let onStdin: ((socket: WebSocket) => void) | undefined;
  const factory: WebSocketFactory = (url, protocols, options) => {
    if (url.includes('/exec?')) {
      urls.push(url);
    }
    const socket = new WebSocket(url, protocols, options);
    const send = socket.send.bind(socket) as (data: Buffer, callback?: () => void) => void;
    socket.send = ((data: Buffer, callback?: () => void) => {
      // A stdin frame (channel 0) holding a block's stdin (kind 4) with some bytes.
      if (onStdin && data[0] === 0 && data[1] === clientFrame.stdin && data.length > 10) {
        const action = onStdin;
        onStdin = undefined;
        action(socket);
        if (socket.readyState !== socket.OPEN) {
          return;
        }
      }
      send(data, callback);
    }) as typeof socket.send;
    return socket;
  };
  return {
    factory,
    atNextStdin(action: (socket: WebSocket) => void) {
      onStdin = action;
    },
    get all() {
      return urls.length;
    },
    get runtimes() {
      return urls.filter((url) => url.includes(runtimeMarker)).length;
    },
  };
}

describe('the workspace sync runs over the warm runtime', () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const execs = watchedExecs();
  const receivers = () =>
    inPod(
      backend.kubeconfigPath,
      executor.podName,
      `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q 'podrunner[-]sync' && echo \${p#/proc/}; done; true`,
    );

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 30,
      warmRuntime: true,
      webSocketFactory: execs.factory,
    });
    await executor.start();
    await executor.executeCodeBlocks([{ language: 'python', code: 'pass' }]);
  });

  after(async () => {
    await executor.stop();
    await backend.verifyNoLeaks();
  });

  test('a first sync and a re-sync open no exec while the runtime is up', async () => {
    const dir = freshDir();
    writeTree(dir, { 'a.txt': 'a', 'sub/b.txt': 'b'.repeat(300_000), link: { link: 'a.txt' } });
    const before = execs.all;
    const first = await executor.syncWorkspace(dir);
    writeTree(dir, { 'a.txt': 'changed' });
    const again = await executor.syncWorkspace(dir);
    assert.deepEqual(
      [first.sent, first.apiCalls, first.receiver, again.sent, again.apiCalls],
      [3, 1, 'python', 1, 1],
    );
    assert.equal(execs.all, before, 'every program ran over the open stream');
    assert.deepEqual(
      await remoteSnapshot(
        backend.kubeconfigPath,
        executor.podName,
        first.root,
        join(scratch, `remote-${cases}`),
      ),
      snapshot(dir),
    );
  });

  test('a cancel mid-sync kills the receiver; nothing half-written is recorded', async () => {
    const dir = freshDir();
    writeTree(dir, { 'big.bin': 'x'.repeat(6 * 1024 * 1024), 'small.txt': 's' });
    const controller = new AbortController();
    execs.atNextStdin(() => controller.abort());
    await assert.rejects(
      executor.syncWorkspace(dir, { signal: controller.signal }),
      (error: unknown) => error instanceof Error && error.name === 'AbortError',
    );
    await eventually(async () => (await receivers()) === '', 10_000, 'no receiver left');
    const next = await executor.syncWorkspace(dir);
    assert.equal(next.sent, 2, 'both files travel again');
    assert.deepEqual(
      await remoteSnapshot(
        backend.kubeconfigPath,
        executor.podName,
        next.root,
        join(scratch, `remote-${cases}`),
      ),
      snapshot(dir),
    );
  });

  test('a stream cut mid-sync fails the sync; the next sync sends what was not confirmed', async () => {
    const dir = freshDir();
    writeTree(dir, { 'one.bin': '1'.repeat(700_000), 'two.bin': '2'.repeat(700_000) });
    const runtimesBefore = execs.runtimes;
    execs.atNextStdin((socket) => socket.terminate());
    await assert.rejects(executor.syncWorkspace(dir), SyncError);
    const next = await executor.syncWorkspace(dir);
    assert.equal(next.sent, 2, 'nothing was confirmed before the cut');
    assert.equal(execs.runtimes, runtimesBefore + 1, 'the next sync ran on a new stream');
    assert.deepEqual(
      await remoteSnapshot(
        backend.kubeconfigPath,
        executor.podName,
        next.root,
        join(scratch, `remote-${cases}`),
      ),
      snapshot(dir),
    );
    await eventually(async () => (await receivers()) === '', 10_000, 'no receiver left');
  });

  test('a large stdin to a child that does not read holds a bounded amount and stalls no other block', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(backend.kubeconfigPath);
    const stream = new RuntimeStream({
      exec: new PodExecClient(kubeConfig),
      namespace: executor.namespace,
      pod: executor.podName,
      container: executor.containerName,
    });
    try {
      await stream.ready;
      let pulled = 0;
      async function* fortyMegabytes(): AsyncGenerator<Buffer> {
        for (let n = 0; n < 40; n++) {
          await new Promise((resolve) => setImmediate(resolve));
          pulled += 1024 * 1024;
          // A streamed frame's bytes start after the exec channel's byte.
          yield Buffer.alloc(1 + 1024 * 1024, 0x61);
        }
      }
      const exits = new Map<string, number>();
      const output = new Map<string, string>();
      const listener = (name: string, done: () => void) => ({
        onOutput: (_: string, bytes: Buffer) =>
          output.set(name, (output.get(name) ?? '') + bytes.toString()),
        onExit: (exit: { status: string; code?: number }) => {
          exits.set(name, exit.code ?? -1);
          done();
        },
        onLost: () => done(),
      });
      const request = (name: string, stdin: boolean) => ({
        tag: `${name}${'0'.repeat(32 - name.length)}`,
        workspace: '/',
        name: '',
        dir: '/',
        roots: [],
        limit: 60,
        remove: false,
        inProcess: true,
        interpreters: [],
        program: { python: true, argv: [], title: `python ${name}` },
        stdin,
      });
      let slowDone!: () => void;
      const slowEnded = new Promise<void>((resolve) => (slowDone = resolve));
      // It reads nothing until the other block has finished, then everything.
      stream.start(
        request('slow', true),
        Buffer.from(
          'import os, sys, time\nwhile not os.path.exists("/tmp/warm-sync-go"):\n    time.sleep(0.02)\nprint(len(sys.stdin.buffer.read()))',
        ),
        listener('slow', slowDone),
        fortyMegabytes(),
      );
      let quickDone!: () => void;
      const quickEnded = new Promise<void>((resolve) => (quickDone = resolve));
      stream.start(
        request('quick', false),
        Buffer.from('for n in range(2000):\n    print(n)'),
        listener('quick', quickDone),
      );
      await quickEnded;
      assert.equal(output.get('quick')?.split('\n').length, 2001);
      assert.ok(pulled <= 4 * 1024 * 1024, `${pulled} bytes taken from the source while unread`);
      await inPod(backend.kubeconfigPath, executor.podName, 'touch /tmp/warm-sync-go');
      await slowEnded;
      assert.deepEqual([exits.get('slow'), output.get('slow')], [0, `${40 * 1024 * 1024}\n`]);
    } finally {
      stream.close();
      await inPod(backend.kubeconfigPath, executor.podName, 'rm -f /tmp/warm-sync-go');
    }
  });
});
