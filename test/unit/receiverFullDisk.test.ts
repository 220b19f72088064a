import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { endRecord, fileHeader, fileTrailer } from '../../src/core/workspaceSync/framing.ts';
import { pythonReceiver } from '../../src/core/workspaceSync/podPrograms.ts';
import { shReceiver } from '../../src/core/workspaceSync/shPrograms.ts';
import { scratchDir } from '../support/scratch.ts';

const scratch = scratchDir('pod-runner-full-disk-');

/** Two files, the second larger than the 64 KiB filesystem they are written to. */
const stream = Buffer.concat([
  fileHeader(0o644, 5, 'small.txt'),
  Buffer.from('small'),
  fileTrailer,
  fileHeader(0o644, 200_000, 'big/too-big.bin'),
  Buffer.alloc(200_000, 1),
  fileTrailer,
  endRecord,
]);

/**
 * Runs a receiver on a 64 KiB tmpfs mounted in a private mount namespace (the host never sees
 * it); prints what the filesystem holds afterwards.
 */
function receiveOnFullDisk(command: string[]): { stdout: string; files: string } {
  const mountPoint = join(scratch, `disk-${command[0]}`);
  mkdirSync(mountPoint);
  const result = spawnSync(
    'unshare',
    [
      '-m',
      'sh',
      '-c',
      'mount -t tmpfs -o size=64k none "$1" && shift && "$@"; echo "files: $(cd "$0" && find . -mindepth 1 | sort | tr "\\n" " ")"',
      mountPoint,
      mountPoint,
      ...command.map((part) => (part === 'ROOT' ? join(mountPoint, 'root') : part)),
    ],
    { input: stream, encoding: 'utf8' },
  );
  const lines = result.stdout.trimEnd().split('\n');
  return { stdout: lines.slice(0, -1).join('\n'), files: lines.at(-1)! };
}

for (const [name, command] of [
  ['Python', ['python3', '-S', '-c', pythonReceiver, 'ROOT', 'mark', join(scratch, 'py-mark')]],
  ['sh', ['sh', '-c', shReceiver, 'sh', 'ROOT', 'detect', 'mark', join(scratch, 'sh-mark')]],
] as const) {
  test(`the ${name} receiver on a full disk: the failing file is named, nothing half-written stays`, () => {
    const { stdout, files } = receiveOnFullDisk([...command]);
    assert.match(stdout, /^(reader \w+\n)?ok 1\n/);
    assert.match(stdout, /err 2 .*(No space left on device|cannot write)/);
    assert.equal(files, 'files: ./root ./root/big ./root/small.txt');
  });
}
