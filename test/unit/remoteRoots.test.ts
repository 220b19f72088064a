import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { RemoteRoots } from '../../src/extension/remoteRoots.ts';

test('a folder syncs to <workspacePath>/<its name>', () => {
  const roots = new RemoteRoots();
  const open = ['/home/ana/shop', '/home/ana/tools'];
  assert.equal(roots.rootOf('/home/ana/shop', open, '/workspace'), '/workspace/shop');
  assert.equal(roots.rootOf('/home/ana/tools', open, '/data/'), '/data/tools');
});

test('of two open folders of the same name the first in order has the plain name, the other a suffix', () => {
  const roots = new RemoteRoots();
  const open = ['/home/ana/b/api', '/home/ana/a/api', '/home/ana/web'];
  assert.equal(
    roots.rootOf('/home/ana/a/api', open, '/workspace'),
    '/workspace/api-' + hash8('/home/ana/a/api'),
  );
  assert.equal(roots.rootOf('/home/ana/b/api', open, '/workspace'), '/workspace/api');
  assert.equal(roots.rootOf('/home/ana/web', open, '/workspace'), '/workspace/web');
});

test("opening a second folder of the same name does not move the first one's root", () => {
  const roots = new RemoteRoots();
  assert.equal(
    roots.rootOf('/home/ana/src/api', ['/home/ana/src/api'], '/workspace'),
    '/workspace/api',
  );
  const both = ['/home/ana/other/api', '/home/ana/src/api'];
  assert.equal(roots.rootOf('/home/ana/src/api', both, '/workspace'), '/workspace/api');
  assert.match(
    roots.rootOf('/home/ana/other/api', both, '/workspace'),
    /^\/workspace\/api-[0-9a-f]{8}$/,
  );
  assert.equal(
    roots.rootOf('/home/ana/src/api', [...both].reverse(), '/workspace'),
    '/workspace/api',
  );
});

function hash8(path: string): string {
  return createHash('sha256').update(path).digest('hex').slice(0, 8);
}
