import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KubeconfigError, loadClusterTarget } from '../../src/core/index.ts';
import { scratchDir } from '../support/scratch.ts';

const kubeconfig = `apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c
  cluster: {server: https://127.0.0.1:6443}
users:
- name: u
  user: {token: abcdefgh12345678}
contexts:
- name: one
  context: {cluster: c, user: u}
- name: two
  context: {cluster: c, user: u, namespace: team}
`;

test('a context is chosen in memory: the kubeconfig file is never written', () => {
  const path = join(scratchDir('pod-runner-kc-'), 'config');
  writeFileSync(path, kubeconfig);
  const target = loadClusterTarget({ kubeconfig: path, context: 'two' });
  assert.equal(target.context, 'two');
  assert.equal(target.namespace, 'team');
  assert.equal(target.kubeConfig.getCurrentContext(), 'two');
  assert.equal(readFileSync(path, 'utf8'), kubeconfig);
  const current = loadClusterTarget({ kubeconfig: path });
  assert.equal(current.context, 'one');
  assert.equal(current.namespace, 'default');
  assert.equal(loadClusterTarget({ kubeconfig: path, namespace: 'x' }).namespace, 'x');
});

test('a missing file or context is a KubeconfigError that says what exists', () => {
  const path = join(scratchDir('pod-runner-kc-'), 'config');
  writeFileSync(path, kubeconfig);
  assert.throws(
    () => loadClusterTarget({ kubeconfig: path, context: 'three' }),
    (error: KubeconfigError) => {
      assert.ok(error instanceof KubeconfigError);
      assert.equal(error.message, 'context "three" is not in the kubeconfig (available: one, two)');
      return true;
    },
  );
  assert.throws(
    () => loadClusterTarget({ kubeconfig: '/nowhere/config' }),
    /kubeconfig file not found: \/nowhere\/config/,
  );
});

test('a kubeconfig with a YAML error is reported by file, line and column, without its text', () => {
  const path = join(scratchDir('pod-runner-kc-'), 'config');
  const token = 'abcdef.0123456789abcdef';
  writeFileSync(
    path,
    kubeconfig.replace(
      'user: {token: abcdefgh12345678}',
      `user:\n    token: ${token}\n   broken: [`,
    ),
  );
  assert.throws(
    () => loadClusterTarget({ kubeconfig: path }),
    (error: KubeconfigError) => {
      assert.ok(error instanceof KubeconfigError);
      assert.equal(
        error.message,
        `cannot load kubeconfig from ${path}: invalid YAML at line 11, column 4: bad indentation of a mapping entry`,
      );
      assert.equal(error.cause, undefined, 'the parser error (which quotes the file) is not kept');
      assert.ok(!JSON.stringify(error).includes('abcdef'), 'no token text anywhere in the error');
      assert.ok(!String(error.stack).includes('abcdef'));
      return true;
    },
  );
});
