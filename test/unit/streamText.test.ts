import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderStreamText } from '../../src/extension/streamText.ts';

test('stream text applies carriage returns and backspaces as Jupyter front ends do', () => {
  assert.equal(renderStreamText('progress 10%\rprogress 50%\rprogress 100%\n'), 'progress 100%\n');
  assert.equal(renderStreamText('abc\b\bX\n'), 'aX\n');
  assert.equal(renderStreamText('line one\nover\rO'), 'line one\nOver');
});
