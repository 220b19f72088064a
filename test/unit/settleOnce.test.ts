import assert from 'node:assert/strict';
import { test } from 'node:test';
import { settleOnce } from '../../src/core/settleOnce.ts';

test('settleOnce: the first outcome wins, later ones are ignored, cleanup runs once before it', async () => {
  const calls: string[] = [];
  const promise = new Promise<string>((resolve, reject) => {
    const outcome = settleOnce<string>(resolve, reject, () => calls.push('cleanup'));
    assert.equal(outcome.settled, false);
    outcome.reject(new Error('first'));
    outcome.resolve('second');
    outcome.reject(new Error('third'));
    assert.equal(outcome.settled, true);
  });
  await assert.rejects(promise, /first/);
  assert.deepEqual(calls, ['cleanup']);
});

test('settleOnce: cleanup runs before the promise settles, so a settled caller sees it done', async () => {
  let cleaned = false;
  const value = await new Promise<boolean>((resolve, reject) => {
    const outcome = settleOnce<boolean>(resolve, reject, () => (cleaned = true));
    outcome.resolve(true);
  });
  assert.equal(value, true);
  assert.equal(cleaned, true);
});
