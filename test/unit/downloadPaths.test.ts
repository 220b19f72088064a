import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SyncError } from '../../src/core/index.ts';
import { downloadFromPod } from '../../src/core/workspaceSync/download.ts';
import { encodePath } from '../../src/core/workspaceSync/framing.ts';
import type {
  PodProgramRunner,
  ProgramRun,
} from '../../src/core/workspaceSync/podProgramRunner.ts';
import { scratchDir } from '../support/scratch.ts';

const scratch = scratchDir('pod-runner-download-');
let targets = 0;

/** A pod whose Python sender answers with `stream`, whatever it was asked. */
function podSending(stream: Buffer): PodProgramRunner {
  return {
    target: { pod: 'fake-pod' },
    run: (_program: unknown, run: ProgramRun) => {
      run.onStdout?.(stream);
      return Promise.resolve({ exitCode: 0, stderr: '', interpreter: 'python' });
    },
  } as unknown as PodProgramRunner;
}

const file = (path: string, content: string) =>
  Buffer.concat([
    Buffer.from(`F 644 ${Buffer.byteLength(content)} ${encodePath(path)}\n`),
    Buffer.from(content),
    Buffer.from('.\n'),
  ]);
const stream = (...records: (Buffer | string)[]) =>
  Buffer.concat([...records.map((record) => Buffer.from(record)), Buffer.from('Q\n')]);

test('a download writes what the pod sent under the local folder, names and modes exact', async () => {
  const target = join(scratch, `t${++targets}`);
  const result = await downloadFromPod(
    podSending(
      stream(
        `M ${encodePath('out')}\n`,
        file('out/a b\n.txt', 'one'),
        `L x ${encodePath('out/l')}\n`,
      ),
    ),
    '/workspace/out',
    target,
    {},
  );
  assert.deepEqual(result, { localPath: join(target, 'out'), files: 1, bytes: 3, skipped: [] });
  assert.equal(readFileSync(join(target, 'out/a b\n.txt'), 'utf8'), 'one');
  assert.equal(readlinkSync(join(target, 'out/l')), 'x');
});

for (const [name, records] of [
  ['a path with ..', [file('../escaped.txt', 'x')]],
  ['an absolute path', [file('/tmp/escaped.txt', 'x')]],
  ['a symlink pointing out', [`L ../.. ${encodePath('out/up')}\n`]],
  ['the folder itself as a file', [file('.', 'x')]],
] as const) {
  test(`a download refuses ${name}`, async () => {
    const target = join(scratch, `t${++targets}`);
    await assert.rejects(
      downloadFromPod(podSending(stream(...records)), '/workspace/out', target, {}),
      (error: unknown) =>
        error instanceof SyncError &&
        /outside/.test(error.message) &&
        !existsSync('/tmp/escaped.txt'),
    );
  });
}

test('a name starting with ".." is inside the folder', async () => {
  const target = join(scratch, `t${++targets}`);
  const result = await downloadFromPod(
    podSending(stream(file('..notes', 'n'))),
    '/workspace/..notes',
    target,
    {},
  );
  assert.deepEqual(result, { localPath: join(target, '..notes'), files: 1, bytes: 1, skipped: [] });
  assert.equal(readFileSync(join(target, '..notes'), 'utf8'), 'n');
});

test('a symlink that leaves through a later one is refused and removed', async () => {
  const target = join(scratch, `t${++targets}`);
  // Each looks inside on its own: out/b/../.. is the folder, but out/b is out itself.
  await assert.rejects(
    downloadFromPod(
      podSending(stream('M out\n', 'L b/../.. out/a\n', 'L . out/b\n')),
      '/workspace/out',
      target,
      {},
    ),
    (error: unknown) =>
      error instanceof SyncError && /"out\/a" .*leads outside/.test(error.message),
  );
  assert.equal(existsSync(join(target, 'out/a')), false);
});

test('a cut or failed stream is a clear error naming the remote path', async () => {
  const target = join(scratch, `t${++targets}`);
  await assert.rejects(
    downloadFromPod(podSending(Buffer.from('F 644 10 out/a\nshort')), '/workspace/out', target, {}),
    /could not download \/workspace\/out from pod fake-pod: the stream from the pod ended early/,
  );
  await assert.rejects(
    downloadFromPod(
      podSending(Buffer.from(`X ${encodePath('/workspace/out/x')} Permission denied\n`)),
      '/workspace/out',
      target,
      {},
    ),
    /could not download \/workspace\/out from pod fake-pod: \/workspace\/out\/x: Permission denied/,
  );
});
