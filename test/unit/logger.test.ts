import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactSecrets } from '../../src/core/index.ts';

test('redactSecrets hides bearer tokens, token query parameters and listed secrets', () => {
  const text =
    'GET /api?token=abc123&x=1 Authorization: Bearer eyJhbGciOi.payload.sig key=supersecretvalue';
  const redacted = redactSecrets(text, ['supersecretvalue']);
  assert.equal(
    redacted,
    'GET /api?token=<redacted>&x=1 Authorization: Bearer <redacted> key=<redacted>',
  );
});

test('redactSecrets leaves short listed values alone so it cannot blank common words', () => {
  assert.equal(redactSecrets('the pod is ok', ['ok']), 'the pod is ok');
});
