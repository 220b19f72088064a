import assert from 'node:assert/strict';
import { processCountScript } from '../support/podHelpers.ts';
import { after, before, describe, test } from 'node:test';
import { PodCommandLineCodeExecutor } from '../../src/core/index.ts';
import { eventually, managedPodNames } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
import { stdinGate } from '../support/syncHelpers.ts';

describe("a block's files and processes are its own", () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const gate = stdinGate();
  const run = (code: string, options?: { signal?: AbortSignal; onOutput?: () => void }) =>
    executor.executeCodeBlocks([{ language: 'sh', code }], options);
  const inPod = async (script: string) => (await run(script)).output;

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 3,
      startupTimeout: 30,
    });
    await executor.start();
  });

  after(async () => {
    gate.release();
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
  });

  test('a run of the same file never cuts short a run that is reading it', async () => {
    // The exec path's property: a warm runtime writes a file only once its code arrived whole,
    // so holding a code's stdin halfway needs an exec per block (its own pod).
    await using cold = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 3,
      startupTimeout: 30,
      webSocketFactory: gate.factory,
      warmRuntime: false,
    });
    await cold.start();
    const coldRun = (code: string) => cold.executeCodeBlocks([{ language: 'sh', code }]);
    const coldInPod = async (script: string) => (await coldRun(script)).output;
    // sh reads its script as it goes: run A waits at the top until /workspace/go exists, while
    // run B of the same code has written only its first MiB.
    const filler = `# ${'x'.repeat(1000)}\n`.repeat(2100);
    const code = `# filename: overlap.sh\necho waiting\nwhile [ ! -e /workspace/go ]; do sleep 0.05; done\n${filler}echo ok\n`;
    await coldInPod('rm -f /workspace/go');
    let waiting!: () => void;
    const aWaits = new Promise<void>((resolve) => (waiting = resolve));
    const first = cold.executeCodeBlocks([{ language: 'sh', code }], {
      onOutput: () => waiting(),
    });
    await aWaits;
    void gate.holdNext();
    const second = coldRun(code);
    // B has begun writing and is held: some copy of the file is there but short.
    const fullSize = Buffer.byteLength(code);
    await eventually(
      async () =>
        (
          await coldInPod(
            'for f in /workspace/overlap.sh /workspace/.overlap.sh.*.part; do [ -f "$f" ] && wc -c < "$f"; done',
          )
        )
          .split('\n')
          .some((size) => Number(size) > 0 && Number(size) < fullSize),
      20_000,
      "run B's first MiB in the pod",
    );
    await coldInPod('touch /workspace/go');
    const a = await first;
    gate.release();
    const b = await second;
    assert.deepEqual(a, {
      exitCode: 0,
      output: 'waiting\nok\n',
      codeFile: '/workspace/overlap.sh',
    });
    assert.deepEqual(b, {
      exitCode: 0,
      output: 'waiting\nok\n',
      codeFile: '/workspace/overlap.sh',
    });
    assert.equal(
      await coldInPod('ls -a /workspace | grep -c "\\.part$" || true'),
      '0\n',
      'no partial file is left',
    );
  });

  test('8 concurrent copies of a 2 MB block, 3 rounds: every one runs to its end', async () => {
    const code = `x = ${JSON.stringify('y'.repeat(2 * 1024 * 1024))}\nprint('ok')\n`;
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => executor.executeCodeBlocks([{ language: 'python', code }])),
      );
      for (const result of results) {
        assert.equal(result.exitCode, 0, `round ${round}`);
        assert.equal(result.output, 'ok\n', `round ${round}`);
      }
    }
  });

  test('a block that leaves setsid daemons ends with its own exit code, and the daemons are killed', async () => {
    const started = Date.now();
    const result = await run(
      "setsid sleep 301 & setsid sh -c 'sleep 302' >/dev/null 2>&1 & echo started; exit 3",
    );
    assert.deepEqual(result.exitCode, 3);
    assert.equal(result.output, 'started\n');
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms (timeout 3 s)`);
    assert.equal(await inPod(processCountScript('[s]leep 30[12]')), '0\n');
  });

  test('cancelling kills setsid daemons too', async () => {
    const controller = new AbortController();
    const result = await run('setsid sleep 303 & echo begun; sleep 304', {
      signal: controller.signal,
      onOutput: () => controller.abort(),
    });
    assert.equal(result.output, 'begun\nCode execution was cancelled.');
    assert.equal(await inPod(processCountScript('[s]leep 30[34]')), '0\n');
  });

  test("a process that dropped the tag but stayed in the block's process group ends with it", async () => {
    const started = Date.now();
    const result = await run('env -i /bin/sleep 306 & echo started; exit 0');
    assert.deepEqual(result.exitCode, 0);
    assert.equal(result.output, 'started\n');
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms (timeout 3 s)`);
    const python = await executor.executeCodeBlocks([
      {
        language: 'python',
        code: "import subprocess\nsubprocess.Popen(['sleep', '307'], env={})\nprint('started')",
      },
    ]);
    assert.deepEqual(python, { ...python, exitCode: 0, output: 'started\n' });
    assert.equal(await inPod(processCountScript('[s]leep 30[67]')), '0\n');
  });

  test('cancelling kills an untagged process of the block that ignores SIGTERM', async () => {
    const controller = new AbortController();
    const result = await run(
      `env -i /bin/sh -c 'trap "" TERM; /bin/sleep 308' & echo begun; sleep 309`,
      { signal: controller.signal, onOutput: () => controller.abort() },
    );
    assert.equal(result.output, 'begun\nCode execution was cancelled.');
    assert.equal(await inPod(processCountScript('[s]leep 30[89]')), '0\n');
  });

  test('# filename naming a directory fails to write and leaves the directory as it was', async () => {
    await inPod('mkdir -p /workspace/a-directory');
    assert.deepEqual(await run('# filename: a-directory\necho ran'), {
      exitCode: 1,
      output: 'cannot write /workspace/a-directory',
    });
    assert.equal(await inPod('ls -A /workspace/a-directory; echo listed'), 'listed\n');
  });

  test('with a read-only root filesystem (/tmp too), cancelling still kills the block', async () => {
    const readOnly = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podName: 'read-only-root',
      timeout: 60,
      startupTimeout: 30,
      volume: { name: 'workspace', emptyDir: {} },
      podSpec: {
        spec: {
          containers: [
            {
              name: 'autogen-executor',
              image: 'python:3-slim',
              securityContext: { readOnlyRootFilesystem: true },
            },
          ],
        },
      },
    });
    await readOnly.start();
    try {
      const inReadOnly = async (code: string) =>
        (await readOnly.executeCodeBlocks([{ language: 'sh', code }])).output;
      const probe = await inReadOnly(
        'touch /tmp/x 2>&1; touch /x 2>&1; touch ok && echo workspace writable',
      );
      assert.match(
        probe,
        /cannot touch '\/tmp\/x': Read-only file system/,
        'the emulator honours it',
      );
      assert.match(probe, /cannot touch '\/x': Read-only file system/);
      assert.match(probe, /workspace writable/);
      const controller = new AbortController();
      const result = await readOnly.executeCodeBlocks(
        [{ language: 'sh', code: 'echo begun; sleep 305' }],
        {
          signal: controller.signal,
          onOutput: (chunk) => chunk.text.includes('begun') && controller.abort(),
        },
      );
      assert.match(result.output, /begun\nCode execution was cancelled\.$/);
      assert.equal(await inReadOnly(processCountScript('[s]leep 305')), '0\n');
    } finally {
      await readOnly.stop();
    }
  });
});
