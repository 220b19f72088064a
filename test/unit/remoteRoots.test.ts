import assert from 'node:assert/strict';
import { test } from 'node:test';
import { remoteRootFor } from '../../src/extension/remoteRoots.ts';

test('a folder syncs to <workspacePath>/<its name>', () => {
  const open = ['/home/ana/shop', '/home/ana/tools'];
  assert.equal(remoteRootFor('/home/ana/shop', open, '/workspace'), '/workspace/shop');
  assert.equal(remoteRootFor('/home/ana/tools', open, '/data/'), '/data/tools');
});

test('two open folders of the same name get different roots, whatever their order', () => {
  const open = ['/home/ana/a/api', '/home/ana/b/api', '/home/ana/web'];
  const first = remoteRootFor('/home/ana/a/api', open, '/workspace');
  const second = remoteRootFor('/home/ana/b/api', open, '/workspace');
  assert.match(first, /^\/workspace\/api-[0-9a-f]{8}$/);
  assert.match(second, /^\/workspace\/api-[0-9a-f]{8}$/);
  assert.notEqual(first, second);
  assert.equal(remoteRootFor('/home/ana/a/api', [...open].reverse(), '/workspace'), first);
  assert.equal(remoteRootFor('/home/ana/web', open, '/workspace'), '/workspace/web');
});
