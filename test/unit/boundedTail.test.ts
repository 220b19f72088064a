import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedTail, type OutputChunk } from '../../src/core/outputCollector.ts';

const texts = (tail: BoundedTail<OutputChunk>): string[] => tail.pieces.map((piece) => piece.text);

test('BoundedTail keeps every piece while they fit', () => {
  const tail = new BoundedTail<OutputChunk>(4);
  tail.push({ stream: 'stdout', text: 'ab' });
  tail.push({ stream: 'stderr', text: 'cd' });
  assert.deepEqual(texts(tail), ['ab', 'cd']);
  assert.equal(tail.droppedBytes, 0);
});

test('BoundedTail drops whole oldest pieces and counts their bytes', () => {
  const tail = new BoundedTail<OutputChunk>(4);
  for (const text of ['aa', 'bb', 'cc', 'dd']) {
    tail.push({ stream: 'stdout', text });
  }
  assert.deepEqual(texts(tail), ['cc', 'dd']);
  assert.equal(tail.droppedBytes, 4);
});

test('BoundedTail cuts the oldest piece at a byte offset, keeping its other fields', () => {
  const tail = new BoundedTail<OutputChunk>(3);
  tail.push({ stream: 'stderr', text: 'abcdef' });
  assert.deepEqual(tail.pieces, [{ stream: 'stderr', text: 'def' }]);
  assert.equal(tail.droppedBytes, 3);
});

test('BoundedTail drops the broken start of a character the cut splits, and counts it', () => {
  const tail = new BoundedTail<OutputChunk>(5);
  tail.push({ stream: 'stdout', text: 'ab' });
  // 8 bytes held: the cut falls one byte into the first '€' (3 bytes), so all of it goes.
  tail.push({ stream: 'stdout', text: '€€' });
  assert.deepEqual(texts(tail), ['€']);
  assert.equal(tail.droppedBytes, 2 + 3);
  tail.push({ stream: 'stdout', text: 'x' });
  assert.deepEqual(texts(tail), ['€', 'x']);
  assert.equal(tail.droppedBytes, 5);
});
