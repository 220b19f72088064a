import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stdinFrameOffset } from '../../src/core/podExec.ts';
import { readFileInto } from '../../src/core/workspaceSync/fileInto.ts';
import { StdinFramer } from '../../src/core/workspaceSync/outgoing.ts';
import { readAhead } from '../../src/core/workspaceSync/readAhead.ts';
import { scratchDir } from '../support/scratch.ts';

/** How a sync's stdin reuses memory: lent reads, reused frames, each valid until the next. */

const scratch = scratchDir('pod-runner-sync-memory-');

const bytes = (length: number, seed: number) =>
  Buffer.from(Array.from({ length }, (_, index) => (index * 31 + seed) % 251));

describe('sync stdin memory', () => {
  test('frames carry every byte in order after the channel byte, and are filled again once handed out', () => {
    const framer = new StdinFramer(1000);
    const parts = [bytes(10, 1), bytes(2500, 2), bytes(999, 3), bytes(1, 4), bytes(3000, 5)];
    const sent: Buffer[] = [];
    const frames = new Set<Buffer>();
    // As the exec client does: each frame is sent (copied here) before the next write.
    for (const part of parts) {
      framer.write(part);
      for (const frame of framer.takeFilled()) {
        assert.equal(frame.length, stdinFrameOffset + 1000);
        sent.push(Buffer.from(frame.subarray(stdinFrameOffset)));
        frames.add(frame);
      }
    }
    for (const frame of framer.takeAll()) {
      sent.push(Buffer.from(frame.subarray(stdinFrameOffset)));
    }
    assert.deepEqual(Buffer.concat(sent), Buffer.concat(parts));
    assert.ok(frames.size < sent.length - 1, `${frames.size} frames for ${sent.length} sends`);
  });

  test('readFileInto reads a file that fits into the lent memory, and a larger one into its own', () => {
    const small = join(scratch, 'small.bin');
    const large = join(scratch, 'large.bin');
    writeFileSync(small, bytes(300, 7));
    writeFileSync(large, bytes(5000, 8));
    const lent = Buffer.alloc(4096);
    const read = readFileInto(small, lent);
    assert.deepEqual(read, bytes(300, 7));
    assert.equal(read.buffer, lent.buffer);
    const own = readFileInto(large, lent);
    assert.deepEqual(own, bytes(5000, 8));
    assert.notEqual(own.buffer, lent.buffer);
    assert.deepEqual(readFileInto(small, undefined), bytes(300, 7));
  });

  test('readFileInto with the size the walk saw: the file as it is now, whatever its size became', () => {
    const file = join(scratch, 'changing.bin');
    const lent = Buffer.alloc(4096);
    writeFileSync(file, bytes(300, 9));
    assert.deepEqual(readFileInto(file, lent, 300), bytes(300, 9), 'as the walk saw it');
    writeFileSync(file, bytes(800, 10));
    assert.deepEqual(readFileInto(file, lent, 300), bytes(800, 10), 'grew since the walk');
    writeFileSync(file, bytes(100, 11));
    assert.deepEqual(readFileInto(file, lent, 300), bytes(100, 11), 'shrank since the walk');
    writeFileSync(file, bytes(9000, 12));
    const grown = readFileInto(file, lent, 300);
    assert.deepEqual(grown, bytes(9000, 12), 'grew past the lent memory');
    assert.notEqual(grown.buffer, lent.buffer);
    writeFileSync(file, bytes(4096, 13));
    assert.deepEqual(readFileInto(file, lent, 300), bytes(4096, 13), 'exactly the lent size');
  });

  for (const lend of [true, false]) {
    test(`read-ahead ${lend ? 'lends memory again once the next item is asked for' : 'without lend leaves every content as it was read'}`, async () => {
      // More items than read-ahead keeps in flight, one larger than what it lends.
      const sizes = Array.from({ length: 40 }, (_, index) => (index === 5 ? 300_000 : 100 + index));
      const paths = sizes.map((size, index) => {
        const path = join(scratch, `item-${lend}-${index}`);
        writeFileSync(path, bytes(size, index));
        return path;
      });
      const kept: Buffer[] = [];
      for await (const [path, content] of readAhead(
        paths,
        (item, into) => Promise.resolve(readFileInto(item, into)),
        (item) => sizes[paths.indexOf(item)]!,
        { lend },
      )) {
        const index = kept.length;
        assert.equal(path, paths[index]);
        assert.deepEqual(content, bytes(sizes[index]!, index), `item ${index} as yielded`);
        kept.push(content);
      }
      assert.equal(kept.length, sizes.length);
      const intact = kept.map((content, index) => content.equals(bytes(sizes[index]!, index)));
      assert.equal(intact[5], true, 'the large file has memory of its own');
      assert.equal(
        intact.every(Boolean),
        !lend,
        'whether earlier contents were overwritten by later reads',
      );
    });
  }
});
