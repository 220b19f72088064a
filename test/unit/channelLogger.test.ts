import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { channelLogger } from '../../src/extension/logging.ts';

/** The part of a LogOutputChannel the logger writes to; it throws once closed, as VS Code's does. */
function fakeChannel(): { channel: vscode.LogOutputChannel; lines: string[]; close: () => void } {
  const lines: string[] = [];
  let closed = false;
  const write = (level: string) => (text: string) => {
    if (closed) {
      throw new Error('Channel has been closed');
    }
    lines.push(`${level} ${text}`);
  };
  const channel = {
    trace: write('trace'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  } as unknown as vscode.LogOutputChannel;
  return { channel, lines, close: () => (closed = true) };
}

test('the channel logger writes redacted lines to the channel', () => {
  const { channel, lines } = fakeChannel();
  const logger = channelLogger(channel, () => ['kubeconfig-secret-value']);
  logger.info('GET /api?token=abc123 with kubeconfig-secret-value');
  logger.error(new Error('failed'));
  assert.equal(lines[0], 'info GET /api?token=<redacted> with <redacted>');
  assert.match(lines[1] ?? '', /^error Error: failed\n/);
});

test('once the channel is closed, the logger writes to the console instead of throwing, still redacted', (t) => {
  const { channel, lines, close } = fakeChannel();
  const logger = channelLogger(channel);
  close();
  const printed: unknown[][] = [];
  for (const method of ['debug', 'info', 'warn', 'error'] as const) {
    t.mock.method(console, method, (...args: unknown[]) => printed.push([method, ...args]));
  }
  assert.doesNotThrow(() => {
    logger.trace('trace line');
    logger.info('deleting pod default/p1 Authorization: Bearer eyJsecret.payload.sig');
    logger.error(new Error('delete failed'));
  });
  assert.deepEqual(lines, []);
  assert.deepEqual(printed[0], ['debug', 'Pod Runner: trace line']);
  assert.deepEqual(printed[1], [
    'info',
    'Pod Runner: deleting pod default/p1 Authorization: Bearer <redacted>',
  ]);
  assert.equal(printed[2]?.[0], 'error');
  assert.match(String(printed[2]?.[1]), /^Pod Runner: Error: delete failed/);
});
