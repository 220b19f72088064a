import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConnectionLostError, ExecStartError } from '../../src/core/errors.ts';
import type { PodExecClient, PodExecRequest, PodExecResult } from '../../src/core/podExec.ts';
import { stdinFrameOffset } from '../../src/core/podExec.ts';
import { PodProgramRunner } from '../../src/core/workspaceSync/podProgramRunner.ts';

/**
 * How a real node answered a sync's first run in an image without Python (seen in the cluster
 * tier): the exec of `python3` fails to start, but while its stdin still streams in, the kubelet's
 * proxy breaks the connection first and no status arrives (code 1006). A bare exec of a command
 * that is not there gets the failed start.
 */
function realNodeWithout(missing: Set<string>) {
  const runs: { command: string; stdin: Buffer }[] = [];
  const exec = {
    async run(request: PodExecRequest): Promise<PodExecResult> {
      const command = request.command[0]!;
      const received: Buffer[] = [];
      if (request.stdin && !Buffer.isBuffer(request.stdin)) {
        for await (const frame of request.stdin) {
          received.push(Buffer.from(frame.subarray(stdinFrameOffset)));
          if (missing.has(command)) {
            break; // the first frame reached the runtime as the start failed
          }
        }
      }
      runs.push({ command, stdin: Buffer.concat(received) });
      if (missing.has(command)) {
        if (request.stdin) {
          throw new ConnectionLostError(
            'p',
            'the exec stream closed (code 1006) without an exit status',
          );
        }
        throw new ExecStartError(
          `exec in pod p failed: exec: "${command}": executable file not found in $PATH`,
        );
      }
      if (command === 'sh') {
        request.onStdout?.(Buffer.from('reader head\nrest'));
      }
      return { exitCode: 0, protocol: 'v5.channel.k8s.io' };
    },
  } as unknown as PodExecClient;
  return { exec, runs };
}

const payload = Array.from({ length: 5 }, (_, index) => Buffer.alloc(1000, 97 + index));

async function* frames(): AsyncGenerator<Buffer> {
  for (const part of payload) {
    // Made as the walk reads the files, a frame at a time.
    await Promise.resolve();
    yield Buffer.concat([Buffer.alloc(stdinFrameOffset), part]);
  }
}

describe('a sync finds its interpreter on a real node that cuts a failed exec', () => {
  test('python3 and python cut mid-stdin and not found by a bare run: sh runs with the whole stdin, once', async () => {
    const node = realNodeWithout(new Set(['python3', 'python']));
    const runner = new PodProgramRunner({
      exec: node.exec,
      namespace: 'default',
      pod: 'p',
      container: 'c',
    });
    let execs = 0;
    let stdout = '';
    const outcome = await runner.run(
      { python: 'pass', sh: ':' },
      {
        args: ['/workspace/x'],
        stdin: frames(),
        onExec: () => execs++,
        onStdout: (chunk) => (stdout += chunk.toString()),
      },
    );
    assert.equal(outcome.interpreter, 'sh');
    assert.equal(outcome.program, 'sh head');
    assert.deepEqual(
      node.runs.map((run) => run.command),
      ['python3', 'python3', 'python', 'python', 'sh'],
      'each cut candidate is asked for by a bare run',
    );
    assert.deepEqual(node.runs.at(-1)!.stdin, Buffer.concat(payload));
    assert.equal(stdout, 'rest');
    assert.equal(execs, 5);
  });

  test('a connection lost while an interpreter that exists runs stays an error: nothing runs twice', async () => {
    const cut = new Set(['python3']);
    const node = realNodeWithout(cut);
    const runner = new PodProgramRunner({
      exec: {
        run: (request: PodExecRequest) =>
          // python3 is there: its bare run answers; the streamed run was cut.
          request.stdin ? node.exec.run(request) : Promise.resolve({ exitCode: 0, protocol: 'v5' }),
      } as unknown as PodExecClient,
      namespace: 'default',
      pod: 'p',
      container: 'c',
    });
    await assert.rejects(
      runner.run(
        { python: 'pass', sh: ':' },
        { args: ['/workspace/x'], stdin: frames(), onExec: () => undefined },
      ),
      ConnectionLostError,
    );
    assert.deepEqual(
      node.runs.map((run) => run.command),
      ['python3'],
      'neither python nor sh ran after it',
    );
  });

  test('a bare run that never answers ends with the idle deadline; a cancel during it is the cancel', async () => {
    const cut = realNodeWithout(new Set(['python3']));
    const silent = {
      // The streamed run is cut; the bare run waits for its signal, as a pod that does not answer.
      run: (request: PodExecRequest) =>
        request.stdin
          ? cut.exec.run(request)
          : new Promise((_, reject) =>
              request.signal?.addEventListener(
                'abort',
                () => reject(request.signal?.reason as Error),
                { once: true },
              ),
            ),
    } as unknown as PodExecClient;
    const target = { exec: silent, namespace: 'default', pod: 'p', container: 'c' };
    // A real exec's socket keeps the process alive while it waits; this stand-in has none.
    const alive = setInterval(() => undefined, 1000);
    after(() => clearInterval(alive));
    await assert.rejects(
      new PodProgramRunner(target).run(
        { python: 'pass', sh: ':' },
        { args: [], stdin: frames(), onExec: () => undefined, idleTimeoutMs: 50 },
      ),
      ConnectionLostError,
    );
    const cancel = new AbortController();
    let runs = 0;
    const cancelled = new PodProgramRunner(target).run(
      { python: 'pass', sh: ':' },
      {
        args: [],
        stdin: frames(),
        // The second run is the bare one: cancel while it waits.
        onExec: () => {
          if (++runs === 2) {
            setImmediate(() => cancel.abort(new Error('cancelled by the user')));
          }
        },
        signal: cancel.signal,
      },
    );
    await assert.rejects(cancelled, /cancelled by the user/);
  });
});
