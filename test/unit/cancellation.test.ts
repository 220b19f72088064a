import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unlessAborted } from '../../src/extension/cancellation.ts';

/** A promise settled by the test, so the order of settling and aborting is chosen, not raced. */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

describe('unlessAborted', () => {
  test('gives the value when the promise settles first', async () => {
    const pod = deferred<string>();
    const abort = new AbortController();
    const waiting = unlessAborted(pod.promise, abort.signal);
    pod.resolve('started');
    assert.equal(await waiting, 'started');
    abort.abort();
  });

  test('rejects with the reason when the signal fires first; the promise itself goes on', async () => {
    const pod = deferred<string>();
    const abort = new AbortController();
    const waiting = unlessAborted(pod.promise, abort.signal);
    abort.abort(new Error('cell cancelled'));
    await assert.rejects(waiting, /cell cancelled/);
    pod.resolve('started');
    assert.equal(await pod.promise, 'started', 'another waiter still gets the shared start');
  });

  test('rejects at once for a signal that fired before the wait', async () => {
    const abort = new AbortController();
    abort.abort(new Error('already cancelled'));
    await assert.rejects(unlessAborted(new Promise<never>(() => undefined), abort.signal), {
      message: 'already cancelled',
    });
  });

  test('passes on the promise rejection', async () => {
    const failed = Promise.reject(new Error('pod did not start'));
    await assert.rejects(unlessAborted(failed, new AbortController().signal), /pod did not start/);
  });
});
