import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import { apiBackoff, retryAdvice, withApiRetry } from '../../src/core/apiRetry.ts';
import { Backoff, backoffDelay } from '../../src/core/backoff.ts';

const apiError = (code: number, headers: Record<string, string> = {}) =>
  new ApiException(code, `HTTP ${code}`, {}, headers);
const networkError = (code: string) =>
  new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });

/** Lets pending promise reactions run (setImmediate is not mocked, setTimeout is). */
const settleReactions = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

test('which errors retry: 429 always, 5xx and dropped connections only for idempotent calls', () => {
  const cases: [string, unknown, boolean, boolean][] = [
    // what, error, retried when idempotent, retried for a create
    ['429', apiError(429), true, true],
    ['500', apiError(500), true, false],
    ['503', apiError(503), true, false],
    ['504', apiError(504), true, false],
    ['400', apiError(400), false, false],
    ['403', apiError(403), false, false],
    ['404', apiError(404), false, false],
    ['409', apiError(409), false, false],
    ['ECONNREFUSED', networkError('ECONNREFUSED'), true, true],
    ['ECONNRESET', networkError('ECONNRESET'), true, false],
    ['ETIMEDOUT', networkError('ETIMEDOUT'), true, false],
    ['ENOTFOUND', networkError('ENOTFOUND'), false, false],
    ['a plain error', new Error('boom'), false, false],
  ];
  for (const [what, error, idempotent, create] of cases) {
    assert.equal(retryAdvice(error, true) !== undefined, idempotent, `${what}, idempotent`);
    assert.equal(retryAdvice(error, false) !== undefined, create, `${what}, create`);
  }
  assert.deepEqual(retryAdvice(apiError(503, { 'retry-after': '2' }), true), {
    retryAfterMs: 2000,
  });
  assert.deepEqual(retryAdvice(apiError(503, { 'retry-after': 'soon' }), true), {});
});

test('the backoff doubles from its first delay up to its cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(apiBackoff, attempt)),
    [200, 400, 800, 1600, 3000, 3000],
  );
});

test('a transient error is tried five times in all, then thrown as it came', async () => {
  let calls = 0;
  const last = apiError(503);
  const outcome = withApiRetry(
    () => {
      calls++;
      return Promise.reject(last);
    },
    { idempotent: true },
  ).then(
    () => assert.fail('resolved'),
    (error: unknown) => error,
  );
  const waits = [200, 400, 800, 1600];
  for (const wait of waits) {
    await settleReactions();
    const before = calls;
    mock.timers.tick(wait - 1);
    await settleReactions();
    assert.equal(calls, before, `no try before ${wait} ms`);
    mock.timers.tick(1);
  }
  assert.equal(await outcome, last);
  assert.equal(calls, 5);
});

test('a final error is thrown at once, with no retry', async () => {
  let calls = 0;
  await assert.rejects(
    withApiRetry(
      () => {
        calls++;
        return Promise.reject(apiError(404));
      },
      { idempotent: true },
    ),
    ApiException,
  );
  assert.equal(calls, 1);
});

test("the server's Retry-After replaces the backoff, capped at 10 s", async () => {
  let calls = 0;
  const outcome = withApiRetry(
    () => {
      calls++;
      return calls === 1
        ? Promise.reject(apiError(429, { 'retry-after': '7' }))
        : calls === 2
          ? Promise.reject(apiError(429, { 'retry-after': '3600' }))
          : Promise.resolve('created');
    },
    { idempotent: false },
  );
  await settleReactions();
  mock.timers.tick(6_999);
  await settleReactions();
  assert.equal(calls, 1, 'waits the 7 s the server asked for');
  mock.timers.tick(1);
  await settleReactions();
  assert.equal(calls, 2);
  mock.timers.tick(9_999);
  await settleReactions();
  assert.equal(calls, 2, 'an hour is capped at 10 s');
  mock.timers.tick(1);
  assert.equal(await outcome, 'created');
  assert.equal(calls, 3);
});

test('an abort stops the wait at once and throws the reason, with no further try', async () => {
  let calls = 0;
  const controller = new AbortController();
  const outcome = withApiRetry(
    () => {
      calls++;
      return Promise.reject(apiError(503, { 'retry-after': '10' }));
    },
    { idempotent: true, signal: controller.signal },
  );
  await settleReactions();
  controller.abort(new Error('cancelled'));
  await assert.rejects(outcome, /cancelled/);
  assert.equal(calls, 1);
});

test('Backoff.wait: false at once when no try is left or the signal already aborted', async () => {
  const limited = new Backoff({ initialDelayMs: 50, maxDelayMs: 50, maxAttempts: 2 });
  const first = limited.wait();
  mock.timers.tick(50);
  assert.equal(await first, true);
  assert.equal(await limited.wait(), false);
  const aborted = new Backoff({ initialDelayMs: 50, maxDelayMs: 50 }, AbortSignal.abort());
  assert.equal(await aborted.wait(), false);
});

test('Backoff with a window: the last wait ends with the window, and no try starts after it', async () => {
  mock.timers.reset();
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const windowed = new Backoff({ initialDelayMs: 400, maxDelayMs: 5_000, windowMs: 1_000 });
  const first = windowed.wait();
  mock.timers.tick(400);
  assert.equal(await first, true);
  // 800 ms by the policy, 600 left in the window.
  const second = windowed.wait();
  mock.timers.tick(600);
  assert.equal(await second, true);
  assert.equal(await windowed.wait(), false);
});
