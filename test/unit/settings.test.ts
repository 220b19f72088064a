import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  OptionError,
  parseSettings,
  resourceRequirements,
  settingKeys,
} from '../../src/core/index.ts';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
  contributes: {
    configuration: { properties: Record<string, { default?: unknown; scope?: string }> };
  };
};

test('the settings the code reads are exactly the settings package.json declares', () => {
  const declared = Object.keys(manifest.contributes.configuration.properties).sort();
  assert.deepEqual(declared, settingKeys.map((key) => `podRunner.${key}`).sort());
});

test("the declared defaults parse to the model's defaults", () => {
  const raw: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(manifest.contributes.configuration.properties)) {
    raw[key.replace('podRunner.', '')] = schema.default;
  }
  const settings = parseSettings(raw);
  assert.equal(settings.image, 'python:3-slim');
  assert.equal(settings.timeout, 60);
  assert.equal(settings.idleTimeoutMinutes, 60);
  assert.equal(settings.kubeconfig, undefined);
  assert.equal(settings.podSpec, undefined);
  assert.deepEqual(settings, parseSettings({}));
  assert.equal(
    parseSettings({ jupyterCommand: [] }).jupyterCommand,
    undefined,
    'VS Code gives [] for an unset list',
  );
});

test('only the user or the machine chooses the kubeconfig; a workspace cannot', () => {
  const properties = manifest.contributes.configuration.properties;
  assert.equal(properties['podRunner.kubeconfig']?.scope, 'machine');
  const scopes = Object.fromEntries(
    Object.entries(properties)
      .filter(([, schema]) => schema.scope !== undefined && schema.scope !== 'resource')
      .map(([key, schema]) => [key, schema.scope]),
  );
  // What the pod is made of may come from the project (a trusted workspace): it runs in the pod.
  assert.deepEqual(scopes, {
    'podRunner.kubeconfig': 'machine',
    'podRunner.podSpec': 'machine-overridable',
    'podRunner.volume': 'machine-overridable',
    'podRunner.jupyterCommand': 'machine-overridable',
    'podRunner.profiles': 'machine-overridable',
  });
  assert.deepEqual(
    [...manifest.capabilities.untrustedWorkspaces.restrictedConfigurations].sort(),
    Object.keys(scopes).sort(),
  );
});

test("what is synced and how a file runs are a folder's own settings (multi-root)", () => {
  const resourceScoped = Object.entries(manifest.contributes.configuration.properties)
    .filter(([, schema]) => schema.scope === 'resource')
    .map(([key]) => key)
    .sort();
  assert.deepEqual(resourceScoped, [
    'podRunner.runFile.cwd',
    'podRunner.sync.enabled',
    'podRunner.sync.exclude',
    'podRunner.sync.maxFileSizeMB',
  ]);
});

test('bad settings name the key and what was expected', () => {
  assert.throws(
    () => parseSettings({ timeout: 0 }),
    (error: OptionError) =>
      error instanceof OptionError &&
      /podRunner\.timeout: expected a whole number from 1 to 86400, got 0/.test(error.message),
  );
  assert.throws(
    () => parseSettings({ workspacePath: 'rel' }),
    /podRunner\.workspacePath: expected an absolute path in the pod/,
  );
  assert.throws(() => parseSettings({ cleanupPolicy: 'sometimes' }), /podRunner\.cleanupPolicy/);
  assert.throws(() => parseSettings({ idleTimeoutMinutes: -1 }), /podRunner\.idleTimeoutMinutes/);
  assert.throws(() => parseSettings({ labels: { a: 1 } }), /podRunner\.labels/);
  assert.throws(
    () => parseSettings({ jupyterCommand: 'python' }),
    /podRunner\.jupyterCommand: expected a list of strings/,
  );
  assert.throws(
    () => parseSettings({ 'interactiveWindow.shiftEnter': 'yes' }),
    /podRunner\.interactiveWindow\.shiftEnter: expected true or false, got "yes"/,
  );
  assert.deepEqual(parseSettings({}).interactiveWindow, { codeLenses: true, shiftEnter: false });
  assert.equal(parseSettings({}).warmRuntime, true);
  assert.equal(parseSettings({ warmRuntime: false }).warmRuntime, false);
  assert.throws(
    () => parseSettings({ warmRuntime: 'off' }),
    /podRunner\.warmRuntime: expected true or false, got "off"/,
  );
});

test('the sync and Run File settings: defaults, megabytes as bytes, errors naming the setting', () => {
  const defaults = parseSettings({});
  assert.deepEqual(defaults.sync, { enabled: true, exclude: [], maxFileBytes: 50 * 1024 * 1024 });
  assert.deepEqual(defaults.runFile, { cwd: 'root' });
  const chosen = parseSettings({
    'sync.enabled': false,
    'sync.exclude': ['data/raw/', ' '],
    'sync.maxFileSizeMB': 0.5,
    'runFile.cwd': 'file',
  });
  assert.deepEqual(chosen.sync, { enabled: false, exclude: ['data/raw/'], maxFileBytes: 524288 });
  assert.equal(chosen.runFile.cwd, 'file');
  assert.throws(
    () => parseSettings({ 'sync.exclude': 'node_modules' }),
    /podRunner\.sync\.exclude: expected a list of glob strings/,
  );
  assert.throws(
    () => parseSettings({ 'sync.maxFileSizeMB': 0 }),
    /podRunner\.sync\.maxFileSizeMB: expected a number of megabytes above 0/,
  );
  assert.throws(() => parseSettings({ 'sync.enabled': 'yes' }), /podRunner\.sync\.enabled/);
  assert.throws(
    () => parseSettings({ 'runFile.cwd': 'home' }),
    /podRunner\.runFile\.cwd: expected "root" or "file", got "home"/,
  );
});

test('resource settings become container limits (GPU as nvidia.com/gpu)', () => {
  assert.equal(resourceRequirements({}), undefined);
  assert.deepEqual(resourceRequirements({ cpu: '500m', memory: '1Gi', gpu: 1 }), {
    limits: { cpu: '500m', memory: '1Gi', 'nvidia.com/gpu': 1 },
  });
});

test('one setting says what closing the window does; the deprecated autoRemove: false still keeps', () => {
  const policy = (raw: Record<string, unknown>) => parseSettings(raw).cleanupPolicy;
  assert.equal(policy({}), 'deleteOnClose');
  assert.equal(policy({ cleanupPolicy: 'keep' }), 'keep');
  assert.equal(policy({ autoRemove: false }), 'keep');
  assert.equal(policy({ autoRemove: true, cleanupPolicy: 'keep' }), 'keep');
  assert.equal(
    policy({ autoRemove: false, cleanupPolicy: 'deleteOnClose' }),
    'deleteOnClose',
    'cleanupPolicy, when given, wins',
  );
  assert.equal(policy({ autoRemove: true }), 'deleteOnClose');
  assert.equal('autoRemove' in parseSettings({ autoRemove: false }), false, 'no second field');
});
