import { configurationDefaults, configurationValues } from '../support/useVscodeStub.ts';
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { readCleanupSettings, readSettings } from '../../src/extension/config.ts';

// As the manifest declares them: reading a setting not set gives its default.
configurationDefaults.set('cleanupPolicy', 'deleteOnClose');
configurationDefaults.set('autoRemove', true);
afterEach(() => configurationValues.clear());

/** What closing the window does, as both of the extension's readers see it. */
function policies(): string[] {
  return [readCleanupSettings().cleanupPolicy, readSettings().cleanupPolicy];
}

test('nothing set: the pods are deleted on close', () => {
  assert.deepEqual(policies(), ['deleteOnClose', 'deleteOnClose']);
});

test('the deprecated autoRemove false alone still keeps the pods', () => {
  configurationValues.set('autoRemove', false);
  assert.deepEqual(policies(), ['keep', 'keep']);
});

test('cleanupPolicy set to deleteOnClose wins over a leftover autoRemove false', () => {
  configurationValues.set('autoRemove', false);
  configurationValues.set('cleanupPolicy', 'deleteOnClose');
  assert.deepEqual(policies(), ['deleteOnClose', 'deleteOnClose']);
});

test('cleanupPolicy keep keeps, whatever autoRemove says', () => {
  configurationValues.set('autoRemove', true);
  configurationValues.set('cleanupPolicy', 'keep');
  assert.deepEqual(policies(), ['keep', 'keep']);
});
