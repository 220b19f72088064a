import assert from 'node:assert/strict';
import { processCountScript } from '../support/podHelpers.ts';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  BlockInterruptedError,
  OptionError,
  PodCommandLineCodeExecutor,
  type Logger,
  type OutputChunk,
} from '../../src/core/index.ts';
import type { WebSocketFactory } from '../../src/core/podExec.ts';
import { runtimeMarker } from '../../src/core/warmRuntime/runtimeProgram.ts';
import { eventually, managedPodNames } from '../support/emulatorFixture.ts';
import { minimalImages } from '../support/syncHelpers.ts';
import { emulatorOf, emulatorOnly, withBackend, type TestBackend } from '../support/backend.ts';

/**
 * Every exec the executors open, the warm runtime's told apart by its marker; `cutAtNextStart`
 * cuts the connection that is about to send the next block's start frame, instead of sending it.
 */
function countingExecs() {
  const urls: string[] = [];
  let cutting = false;
  const factory: WebSocketFactory = (url, protocols, options) => {
    if (url.includes('/exec?')) {
      urls.push(url);
    }
    const socket = new WebSocket(url, protocols, options);
    const send = socket.send.bind(socket) as (data: Buffer, callback?: () => void) => void;
    socket.send = ((data: Buffer, callback?: () => void) => {
      // A stdin frame (channel 0) holding a start frame (kind 1).
      if (cutting && data[0] === 0 && data[1] === 1) {
        cutting = false;
        socket.terminate();
        return;
      }
      send(data, callback);
    }) as typeof socket.send;
    return socket;
  };
  return {
    factory,
    cutAtNextStart() {
      cutting = true;
    },
    get runtimes() {
      return urls.filter((url) => url.includes(runtimeMarker)).length;
    },
    get others() {
      return urls.filter((url) => !url.includes(runtimeMarker)).length;
    },
  };
}

function capturingLogger(lines: string[]): Logger {
  const keep = (message: string | Error) => lines.push(String(message));
  return { trace: keep, debug: keep, info: keep, warn: keep, error: keep };
}

/** A process of the pod, by a pid it wrote to a file, is gone (or a zombie nobody reaped yet). */
const goneScript = (pidFile: string) =>
  `p=$(cat ${pidFile}); s=$(cat /proc/$p/stat 2>/dev/null); case "$s" in "" | *") Z "*) echo gone ;; *) echo alive ;; esac`;

describe('the warm runtime runs blocks over one exec stream', () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const execs = countingExecs();
  const python = (code: string, options?: Parameters<typeof executor.executeCodeBlocks>[1]) =>
    executor.executeCodeBlocks([{ language: 'python', code }], options);
  const inPod = async (script: string) =>
    (await executor.executeCodeBlocks([{ language: 'sh', code: script }])).output;
  const sleeping = (pattern: string) => inPod(processCountScript(`[s]leep ${pattern}`));

  before(async () => {
    backend = await withBackend({
      backoffBaseMs: 200,
      images: { images: minimalImages },
    });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 3,
      startupTimeout: 30,
      warmRuntime: true,
      webSocketFactory: execs.factory,
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
  });

  test('the option takes true or false only', () => {
    assert.throws(
      () => new PodCommandLineCodeExecutor({ warmRuntime: 'no' as unknown as boolean }),
      (error: unknown) =>
        error instanceof OptionError && /warmRuntime: must be true or false/.test(error.message),
    );
    assert.equal(new PodCommandLineCodeExecutor({ warmRuntime: false }).warmRuntime, false);
  });

  test('one exec serves every block, python and shell alike', async () => {
    assert.deepEqual([execs.runtimes, execs.others], [0, 0]);
    for (let n = 0; n < 5; n++) {
      assert.equal((await python(`print(${n} * 3)`)).output, `${n * 3}\n`);
      assert.equal(await inPod(`echo ${n}`), `${n}\n`);
    }
    assert.deepEqual([execs.runtimes, execs.others], [1, 0]);
  });

  test('every block is a fresh process: its own globals, environment, path and pid', async () => {
    const first = await python(
      'import os, sys\nx = 41\nos.environ["LEAKED"] = "1"\nsys.path.append("/leak")\nprint(os.getpid())',
    );
    const second = await python(
      'import os, sys\nprint("x" in globals(), os.environ.get("LEAKED"), "/leak" in sys.path, __name__, sys.argv == [__file__], __file__ == sys.path[0] + "/" + os.path.basename(__file__))\nprint(os.getpid())',
    );
    const [verdict, pid] = second.output.split('\n');
    assert.equal(verdict, 'False None False __main__ True True');
    assert.notEqual(pid, first.output.trim());
    assert.equal(second.codeFile?.startsWith('/workspace/tmp_code_'), true);
    assert.equal(execs.runtimes, 1, 'both on the one stream');
  });

  test('16 blocks at once over the one stream: each its own output and exit code', async () => {
    await inPod('rm -rf /workspace/p16 && mkdir /workspace/p16');
    const before = execs.runtimes + execs.others;
    // Each waits until all 16 have started: they can only end if they run at the same time.
    const runs = Array.from({ length: 16 }, (_, n) => {
      const chunks: OutputChunk[] = [];
      const result = python(
        `import os, sys, time\nopen("/workspace/p16/${n}", "w").close()\nwhile len(os.listdir("/workspace/p16")) < 16:\n    time.sleep(0.01)\nprint("out ${n}")\nprint("err ${n}", file=sys.stderr)\nsys.exit(${n})`,
        { onOutput: (chunk) => chunks.push(chunk) },
      );
      return result.then((outcome) => ({ outcome, chunks }));
    });
    const results = await Promise.all(runs);
    results.forEach(({ outcome, chunks }, n) => {
      assert.equal(outcome.exitCode, n);
      const text = (stream: string) =>
        chunks
          .filter((chunk) => chunk.stream === stream)
          .map((chunk) => chunk.text)
          .join('');
      assert.deepEqual([text('stdout'), text('stderr')], [`out ${n}\n`, `err ${n}\n`]);
    });
    assert.equal(execs.runtimes + execs.others, before, 'no exec of their own');
  });

  test('a robust runtime: segfaults, os._exit, binary and huge output, stdin, forked daemons', async () => {
    await inPod('rm -f /workspace/daemon.pid /workspace/timeout.pid');
    const [segfault, exited, binary, huge, stdin, daemon] = await Promise.all([
      python('import ctypes\nctypes.string_at(0)'),
      python('import os\nprint("x", flush=True)\nos._exit(7)'),
      python('import sys\nsys.stdout.buffer.write(bytes(range(250, 256)) + b" ok")'),
      python('import sys\nsys.stdout.write("y" * 12_000_000)\nprint("end")'),
      python('import sys\nprint(repr(sys.stdin.read()))\ninput()'),
      python(
        'import os, time\nif os.fork() == 0:\n    os.setsid()\n    with open("/workspace/daemon.part", "w") as f:\n        f.write(str(os.getpid()))\n    os.rename("/workspace/daemon.part", "/workspace/daemon.pid")\n    time.sleep(351)\nwhile not os.path.exists("/workspace/daemon.pid"):\n    time.sleep(0.01)\nprint("parent done")',
      ),
    ]);
    assert.equal(segfault.exitCode, 139);
    assert.deepEqual([exited.exitCode, exited.output], [7, 'x\n']);
    assert.deepEqual([binary.exitCode, binary.output], [0, '\uFFFD'.repeat(6) + ' ok']);
    assert.equal(huge.exitCode, 0);
    assert.match(huge.output, /^y+\n\.\.\. \[\d+ bytes of output truncated\] \.\.\.\ny+end\n$/);
    assert.equal(stdin.exitCode, 1);
    assert.match(stdin.output, /^''\nTraceback[\s\S]*EOFError: EOF when reading a line\n$/);
    // The daemon (a fork that never exec'd, in a session of its own) ended with its block.
    assert.deepEqual([daemon.exitCode, daemon.output], [0, 'parent done\n']);
    assert.equal(await inPod(goneScript('/workspace/daemon.pid')), 'gone\n');
    assert.equal((await python('print("still serving")')).output, 'still serving\n');
    assert.equal(execs.runtimes, 1, 'the runtime survived them all');
  });

  test('a timeout is 124 and kills the whole group, forks that left it included', async () => {
    const result = await python(
      'import os, subprocess, time\nsubprocess.Popen(["sh", "-c", "trap \\"\\" TERM; sleep 331"])\nif os.fork() == 0:\n    os.setsid()\n    with open("/workspace/timeout.part", "w") as f:\n        f.write(str(os.getpid()))\n    os.rename("/workspace/timeout.part", "/workspace/timeout.pid")\n    time.sleep(332)\nwhile not os.path.exists("/workspace/timeout.pid"):\n    time.sleep(0.01)\nprint("started", flush=True)\ntime.sleep(60)',
    );
    assert.deepEqual([result.exitCode, result.output], [124, 'started\n\n Timeout']);
    assert.equal(await sleeping('331'), '0\n');
    assert.equal(await inPod(goneScript('/workspace/timeout.pid')), 'gone\n');
    assert.equal(execs.runtimes, 1);
  });

  test('cancelling mid-block kills its processes; the stream serves on', async () => {
    const controller = new AbortController();
    const result = await python(
      'import subprocess, sys, time\nsubprocess.Popen(["sleep", "341"])\nsys.stdout.write("begun\\n")\ntime.sleep(60)',
      { signal: controller.signal, onOutput: () => controller.abort() },
    );
    assert.deepEqual([result.exitCode, result.output], [1, 'begun\nCode execution was cancelled.']);
    assert.equal(await sleeping('341'), '0\n');
    assert.equal(execs.runtimes, 1);
  });

  test(
    'a stream cut mid-block: that block is lost, never run again; the next runs on a new stream',
    {
      skip: emulatorOnly('cuts the stream by fault injection'),
    },
    async () => {
      await inPod('rm -f /workspace/cut-counter');
      const lost = python(
        // One write: print() writes the text and its newline apart, and the cut may fall between.
        'import subprocess, sys, time\nwith open("/workspace/cut-counter", "a") as f:\n    f.write("ran\\n")\nsubprocess.Popen(["sleep", "321"])\nsys.stdout.write("started\\n")\nsys.stdout.flush()\ntime.sleep(60)',
        { onOutput: () => emulatorOf(backend).faults.dropConnections('default', executor.podName) },
      );
      await assert.rejects(lost, (error: unknown) => {
        assert.ok(error instanceof BlockInterruptedError, String(error));
        assert.equal(error.output, 'started\n');
        assert.match(error.message, /the exec stream closed .* without an exit status; /);
        return true;
      });
      const runtimesBefore = execs.runtimes;
      assert.equal(
        (await python('print(open("/workspace/cut-counter").read())')).output,
        'ran\n\n',
      );
      assert.equal(execs.runtimes, runtimesBefore + 1, 'a new stream');
      // The runtime saw its stream end and killed the block.
      await eventually(
        async () => (await sleeping('321')) === '0\n',
        10_000,
        'the lost block ended',
      );
    },
  );

  test('a stream cut before the runtime was told to run a block: it runs once, on a new stream', async () => {
    await inPod('rm -f /workspace/once-counter');
    const runtimesBefore = execs.runtimes;
    execs.cutAtNextStart();
    const result = await python(
      'with open("/workspace/once-counter", "a") as f:\n    f.write("ran\\n")\nprint(open("/workspace/once-counter").read().count("ran"))',
    );
    assert.deepEqual([result.exitCode, result.output], [0, '1\n']);
    assert.equal(execs.runtimes, runtimesBefore + 1, 'a new stream');
  });

  test("runFile runs a synced file on the stream, with the exec path's results and no exec of its own", async () => {
    const local = await mkdtemp(join(tmpdir(), 'warm-runfile-'));
    try {
      await mkdir(join(local, 'app'));
      await writeFile(
        join(local, 'app/main.py'),
        'import os, sys\nfrom app import helper\nprint(helper.VALUE, sys.argv[1:], os.environ.get("GREETING"), os.environ.get("PYTHONHASHSEED"), os.getcwd())\nsys.exit(int(os.environ.get("CODE", "0")))\n',
      );
      await writeFile(join(local, 'app/__init__.py'), '');
      await writeFile(join(local, 'app/helper.py'), 'VALUE = "helped"\n');
      await writeFile(join(local, 'app/run.sh'), 'echo "sh: $1 in $(pwd)"\nexit 3\n');
      await writeFile(
        join(local, 'app/slow.py'),
        'import time\nprint("begun", flush=True)\ntime.sleep(30)\n',
      );
      const { root: remoteRoot } = await executor.syncWorkspace(local);
      await python('pass');
      const before = execs.runtimes + execs.others;
      const inProcess = await executor.runFile('app/main.py', {
        args: ['a b', ''],
        env: { GREETING: 'hi', CODE: '7' },
      });
      assert.deepEqual(
        [inProcess.exitCode, inProcess.output],
        [7, `helped ['a b', ''] hi None ${remoteRoot}\n`],
      );
      const freshInterpreter = await executor.runFile('app/main.py', {
        cwd: 'file',
        env: { PYTHONHASHSEED: '5' },
      });
      assert.equal(freshInterpreter.output, `helped [] None 5 ${remoteRoot}/app\n`);
      const shell = await executor.runFile('app/run.sh', { args: ['x'] });
      assert.deepEqual([shell.exitCode, shell.output], [3, `sh: x in ${remoteRoot}\n`]);
      await writeFile(join(local, 'app/late.py'), 'print("new since the sync")\n');
      const missing = await executor.runFile('app/late.py');
      assert.deepEqual(
        [missing.exitCode, missing.output],
        [
          1,
          `${join(local, 'app/late.py')} is not in the pod (${remoteRoot}/app/late.py): not synced (new since the last sync, ignored, or too large)`,
        ],
      );
      const timedOut = await executor.runFile('app/slow.py');
      assert.deepEqual([timedOut.exitCode, timedOut.output], [124, 'begun\n\n Timeout']);
      assert.equal(execs.runtimes + execs.others, before, 'no exec of their own');
      // A cancel also kills through an exec of its own, as for blocks (warmBlockRun.ts).
      const cancel = new AbortController();
      const cancelled = await executor.runFile('app/slow.py', {
        signal: cancel.signal,
        // print writes the text and its newline apart: cancelled once both arrived.
        onOutput: (chunk) => chunk.text.endsWith('\n') && cancel.abort(),
      });
      assert.deepEqual(
        [cancelled.exitCode, cancelled.output],
        [1, 'begun\nCode execution was cancelled.'],
      );
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });

  test('an image without Python: every block takes an exec of its own, and the log says so once', async () => {
    const lines: string[] = [];
    const counted = countingExecs();
    await using subject = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      image: 'coreutils-no-python',
      startupTimeout: 30,
      logger: capturingLogger(lines),
      webSocketFactory: counted.factory,
    });
    await subject.start();
    for (let n = 0; n < 3; n++) {
      const result = await subject.executeCodeBlocks([{ language: 'sh', code: 'echo hi' }]);
      assert.deepEqual([result.exitCode, result.output], [0, 'hi\n']);
    }
    const said = lines.filter((line) => line.includes('warm runtime'));
    assert.equal(said.length, 1, lines.join('\n'));
    assert.match(said[0]!, /no python or python3 on the PATH/);
    assert.deepEqual([counted.runtimes, counted.others], [1, 3]);
  });

  test("a shell block's world is an exec's: a writer that left the block is waited for, a file over the size limit is fatal", async () => {
    // Longer than any grace a runtime might give output after the block's main process ended.
    const roomy = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 30,
      startupTimeout: 30,
      warmRuntime: true,
    });
    await roomy.start();
    try {
      const [late, fileSize] = await Promise.all([
        roomy.executeCodeBlocks([
          {
            language: 'sh',
            // The block ends once the writer has dropped the block's tag (so no sweep takes it).
            code: "rm -f /tmp/late-writer\nsetsid env -i sh -c 'echo $$ > /tmp/late-writer; sleep 2; echo late' &\nuntil [ -s /tmp/late-writer ]; do sleep 0.05; done\necho early",
          },
        ]),
        roomy.executeCodeBlocks([
          {
            language: 'bash',
            code: 'ulimit -f 1\nhead -c 4096 /dev/zero > /tmp/size-limit\necho "head: $?"',
          },
        ]),
      ]);
      // The exec path's output ends when every writer is gone; so does the runtime's.
      assert.deepEqual([late.exitCode, late.output], [0, 'early\nlate\n']);
      // SIGXFSZ kills head (128 + 25), as it would in an exec: not ignored as in Python.
      assert.equal(fileSize.exitCode, 0);
      assert.match(fileSize.output, /File size limit exceeded/);
      assert.match(fileSize.output, /^head: 153$/m);
    } finally {
      await roomy.stop();
    }
  });

  test('closing an executor while a block runs leaves nothing running in the pod', async () => {
    const podName = `warm-close-${Date.now()}`;
    const options = {
      kubeconfig: backend.kubeconfigPath,
      podName,
      autoRemove: false,
      startupTimeout: 30,
    };
    const kept = new PodCommandLineCodeExecutor(options);
    await kept.start();
    let begun!: () => void;
    const running = new Promise<void>((resolve) => (begun = resolve));
    const pending = kept.executeCodeBlocks(
      [
        {
          language: 'python',
          code: 'import subprocess, time\nsubprocess.Popen(["sleep", "361"])\nprint("begun", flush=True)\ntime.sleep(60)',
        },
      ],
      { onOutput: () => begun() },
    );
    await running;
    await kept[Symbol.asyncDispose]();
    await assert.rejects(pending, BlockInterruptedError);
    const looking = new PodCommandLineCodeExecutor({ ...options, warmRuntime: false });
    try {
      await looking.start();
      const left = async () =>
        (
          await looking.executeCodeBlocks([
            {
              language: 'sh',
              code: processCountScript('[s]leep 361\\|[p]od-runner-warm-runtime'),
            },
          ])
        ).output;
      await eventually(async () => (await left()) === '0\n', 10_000, 'nothing left running');
    } finally {
      await looking.stop();
    }
  });
});
