import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxResultTextBytes, toolResult, truncate } from '../../src/mcp/tools.ts';

test('output past the limit keeps its head and tail around a marker', () => {
  const output = `${'a'.repeat(200_000)}${'z'.repeat(200_000)}`;
  const text = truncate(output);
  assert.ok(Buffer.byteLength(text) < maxResultTextBytes + 100);
  assert.ok(text.startsWith('a'.repeat(1000)));
  assert.ok(text.endsWith('z'.repeat(1000)));
  assert.match(text, /\n\[\.\.\. 297600 bytes of output left out \.\.\.\]\n/);
  assert.equal(truncate('short'), 'short');
});

test('a timeout says so; an exit code of 124 of the code itself does not', () => {
  const stopped = toolResult({ exitCode: 124, output: 'begin\n\n Timeout', images: [] }, 5);
  assert.equal(stopped.isError, true);
  assert.match(
    JSON.stringify(stopped.content),
    /timed out: the run was stopped after its limit of 5 seconds/,
  );
  const exited = toolResult({ exitCode: 124, output: 'bye\n', images: [] }, 5);
  assert.deepEqual(exited.content, [{ type: 'text', text: 'bye\n[exit code: 124]' }]);
});

test('images follow the text; exit code 0 is no error', () => {
  const result = toolResult(
    { exitCode: 0, output: '', images: [{ data: 'iVBORw0KGgo=', mimeType: 'image/png' }] },
    60,
  );
  assert.deepEqual(result, {
    content: [
      { type: 'text', text: '[exit code: 0]' },
      { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' },
    ],
  });
});
