import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { endRecord, fileHeader, fileTrailer } from '../../src/core/workspaceSync/framing.ts';
import { pythonLister, pythonReceiver } from '../../src/core/workspaceSync/podPrograms.ts';
import { scratchDir } from '../support/scratch.ts';

const scratch = scratchDir('pod-runner-program-output-');
const files = 300;

/**
 * Runs a sync program with PYTHONUNBUFFERED=1, as many Python images set it, and counts the
 * write calls it made: a shell runs it, reaps it and reads its own /proc io counters, which then
 * include the reaped child's.
 */
function writesOf(
  program: string,
  args: string[],
  stdin?: Buffer,
): { writes: number; stdout: string } {
  const result = spawnSync(
    'sh',
    ['-c', 'python3 -S -c "$@" >"$OUT"; grep "^syscw:" /proc/$$/io >&2', 'sh', program, ...args],
    {
      input: stdin ?? Buffer.alloc(0),
      env: {
        // The system Python (a version manager's shim on the PATH would add writes of its own).
        PATH: '/usr/bin:/bin',
        PYTHONUNBUFFERED: '1',
        OUT: join(scratch, `out-${args[0]?.length}`),
      },
      encoding: 'utf8',
    },
  );
  const match = /syscw: (\d+)/.exec(result.stderr);
  assert.ok(match, `no io counters: ${result.stderr}`);
  return { writes: Number(match[1]), stdout: result.stdout };
}

test('the receiver confirms hundreds of files in a few writes, also with PYTHONUNBUFFERED=1', () => {
  const records: Buffer[] = [];
  for (let index = 0; index < files; index++) {
    records.push(fileHeader(0o644, 2, `f${index}.txt`), Buffer.from('ok'), fileTrailer);
  }
  records.push(endRecord);
  const root = join(scratch, 'received');
  const { writes } = writesOf(
    pythonReceiver,
    [root, 'mark', join(scratch, 'marker')],
    Buffer.concat(records),
  );
  // Each file's content is one write; the confirmations of all of them go out in a few more.
  assert.ok(writes < files + 20, `${writes} write calls for ${files} files`);
});

test('the lister lists hundreds of files in a few writes, also with PYTHONUNBUFFERED=1', () => {
  const root = join(scratch, 'listed');
  mkdirSync(root);
  for (let index = 0; index < files; index++) {
    writeFileSync(join(root, `f${index}.txt`), 'ok');
  }
  const { writes } = writesOf(pythonLister, [root]);
  assert.ok(writes < 20, `${writes} write calls for ${files} listed files`);
});
