import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  declaredFilename,
  generatedFilename,
  runtimeFor,
  silencePip,
} from '../../src/core/codeBlocks.ts';
import { formatFunctionsForPrompt, withRequirements } from '../../src/core/index.ts';
import { buildFunctionsModule } from '../../src/core/functions.ts';
import { OutputCollector } from '../../src/core/outputCollector.ts';

test('languages map to runtimes case-insensitively; unknown ones do not', () => {
  assert.equal(runtimeFor('Python')?.name, 'python');
  assert.equal(runtimeFor('py')?.extension, 'py');
  assert.equal(runtimeFor('shell')?.name, 'sh');
  assert.deepEqual(runtimeFor('ps1')?.interpreters, ['pwsh', 'powershell']);
  assert.equal(runtimeFor('javascript'), undefined);
});

test('pip install lines are silenced as in the seed', () => {
  assert.equal(
    silencePip('!pip install numpy\nprint(1)', runtimeFor('python')!),
    '!pip install numpy -qqq\nprint(1)',
  );
  assert.equal(silencePip('pip install x -qqq', runtimeFor('sh')!), 'pip install x -qqq');
  assert.equal(silencePip('pip install x', runtimeFor('python')!), 'pip install x');
});

test('filenames: # filename on the first line, else tmp_code_<sha256>.<ext>', () => {
  assert.equal(declaredFilename('# filename: app/main.py\nprint(1)'), 'app/main.py');
  assert.equal(declaredFilename('print(1)\n# filename: x.py'), undefined);
  assert.match(generatedFilename('print(1)', runtimeFor('python')!), /^tmp_code_[0-9a-f]{64}\.py$/);
});

test('output: a character split across frames stays whole; invalid bytes become U+FFFD', () => {
  const chunks: string[] = [];
  const collector = new OutputCollector(1024, (c) => chunks.push(c.text));
  const euro = Buffer.from('€');
  collector.push('stdout', euro.subarray(0, 1));
  collector.push('stdout', euro.subarray(1));
  collector.push('stderr', Buffer.from([0xff, 0x41]));
  assert.equal(collector.finish(), '€\uFFFDA');
  assert.deepEqual(chunks, ['€', '\uFFFDA']);
});

test('output beyond maxOutputBytes keeps the head and the tail with a marker', () => {
  const collector = new OutputCollector(100);
  for (let i = 0; i < 100; i++) {
    collector.push('stdout', Buffer.from(`line ${String(i).padStart(3, '0')}\n`));
  }
  const text = collector.finish();
  assert.ok(text.startsWith('line 000\nline 001\n'));
  assert.ok(text.endsWith('line 099\n'));
  assert.match(text, /\n\.\.\. \[\d+ bytes of output truncated\] \.\.\.\n/);
  assert.ok(Buffer.byteLength(text) < 200);
});

test('functions: the module has each import once, and prompt stubs show signatures and docstrings', () => {
  const add = withRequirements(
    'def add(a: int, b: int) -> int:\n    """Adds two numbers."""\n    return a + b\n',
    { globalImports: ['math', { name: 'numpy', alias: 'np' }] },
  );
  const load = withRequirements('@decorated\ndef load(path):\n    return json.load(open(path))\n', {
    globalImports: ['math', { module: 'json', imports: ['load', { name: 'dumps', alias: 'd' }] }],
    pythonPackages: ['requests'],
  });
  const module = buildFunctionsModule([add, load]);
  assert.equal(module.split('\n').filter((l) => l === 'import math').length, 1);
  assert.match(
    module,
    /^import math\nimport numpy as np\nfrom json import load, dumps as d\n\ndef add/,
  );
  assert.doesNotMatch(module, /@decorated/);
  const prompt = formatFunctionsForPrompt([add, load], 'tools');
  assert.match(prompt, /from tools import add/);
  assert.match(
    prompt,
    /def add\(a: int, b: int\) -> int:\n {4}"""Adds two numbers\."""\n {4}\.\.\./,
  );
  assert.match(prompt, /def load\(path\):\n {4}\.\.\./);
});
