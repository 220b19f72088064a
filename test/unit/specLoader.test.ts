import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSpec, SpecError } from '../../src/core/index.ts';
import { scratchDir } from '../support/scratch.ts';

const dir = scratchDir('pod-runner-spec-');
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

test('loadSpec accepts an object, a YAML string, a JSON string and a file path', () => {
  const object = { kind: 'Pod', metadata: { name: 'a' } };
  assert.deepEqual(loadSpec(object, 'Pod', 'podSpec').spec, object);
  assert.deepEqual(loadSpec('kind: Pod\nmetadata:\n  name: a\n', 'Pod', 'podSpec').spec, object);
  assert.deepEqual(loadSpec(JSON.stringify(object), 'Pod', 'podSpec').spec, object);
  const path = file('pod.yaml', 'kind: Pod\nmetadata: {name: a}\n');
  const loaded = loadSpec(path, 'Pod', 'podSpec');
  assert.deepEqual(loaded.spec, object);
  assert.equal(loaded.source, `file ${path}`);
});

test('loadSpec picks the document of the wanted kind from a multi-document file', () => {
  const path = file(
    'all.yaml',
    'kind: Service\nmetadata: {name: s}\n---\nkind: Pod\nmetadata: {name: p}\n---\nkind: Secret\n',
  );
  assert.equal((loadSpec(path, 'Pod', 'podSpec').spec.metadata as { name: string }).name, 'p');
  assert.throws(
    () => loadSpec(file('nopod.yaml', 'kind: Service\n---\nkind: Secret\n'), 'Pod', 'podSpec'),
    (error: SpecError) => {
      assert.ok(error instanceof SpecError);
      assert.match(
        error.message,
        /nopod\.yaml has no manifest of kind Pod \(found: Service, Secret\)/,
      );
      return true;
    },
  );
});

test('loadSpec names the file, line and column of a syntax error', () => {
  const path = file('broken.yaml', 'kind: Pod\nmetadata:\n  name: [unclosed\n');
  assert.throws(
    () => loadSpec(path, 'Pod', 'podSpec'),
    /podSpec: invalid YAML\/JSON in file .*broken\.yaml at line \d+, column \d+/,
  );
  assert.throws(
    () => loadSpec('{"kind": "Pod",, }', 'Pod', 'podSpec'),
    /podSpec: invalid YAML\/JSON in podSpec \(YAML\/JSON string\) at line 1, column \d+/,
  );
});

test('loadSpec reports a missing spec file and wrong input types clearly', () => {
  assert.throws(
    () => loadSpec('/nowhere/pod.yaml', 'Pod', 'podSpec'),
    /podSpec: spec file not found: \/nowhere\/pod\.yaml/,
  );
  assert.throws(
    () => loadSpec(42 as never, 'Pod', 'podSpec'),
    /podSpec: expected an object, a YAML\/JSON string or a file path, got a number/,
  );
  assert.throws(() => loadSpec('- a\n- b\n', 'Pod', 'podSpec'), /holds no manifest/);
});
