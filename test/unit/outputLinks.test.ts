import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileLocations } from '../../src/extension/fileLocations.ts';
import { LineMapper, StreamLineMappers } from '../../src/extension/lineMapper.ts';

const located = (text: string) =>
  fileLocations(text).map(({ path, line, start, end }) => ({
    path,
    line,
    linked: text.slice(start, end),
  }));

test('a Python frame\'s file and line are found, the whole `File "…", line N` linked', () => {
  const text = 'Traceback:\n  File "/home/ana/my app/util.py", line 7, in parse_row\n';
  assert.deepEqual(located(text), [
    {
      path: '/home/ana/my app/util.py',
      line: 7,
      linked: 'File "/home/ana/my app/util.py", line 7',
    },
  ]);
});

test('`path:N` forms are found: IPython frames (coloured or not), warnings; URLs and relative paths are not', () => {
  const text = [
    'File \x1b[0;32m/home/ana/app/util.py:7\x1b[0m, in parse_row(line)',
    '/home/ana/app/main.py:3: UserWarning: careful',
    'see https://example.com/docs:80 and app/util.py:7',
  ].join('\n');
  assert.deepEqual(located(text), [
    { path: '/home/ana/app/util.py', line: 7, linked: '/home/ana/app/util.py:7' },
    { path: '/home/ana/app/main.py', line: 3, linked: '/home/ana/app/main.py:3' },
  ]);
});

test('one place is found once, even when both forms would match it', () => {
  assert.equal(fileLocations('File "/a/b.py", line 2 and /a/b.py:2').length, 2);
  assert.equal(fileLocations('File "/a/b.py:2", line 2').length, 1);
});

test('the line mapper maps whole lines: a path split across chunks is still mapped', () => {
  const mapper = new LineMapper((text) => text.replaceAll('/workspace/shop', '/home/ana/shop'));
  const chunks = ['Traceback\n  File "/works', 'pace/sh', 'op/app/util.py", line 7\n', 'Value'];
  const shown = chunks.map((chunk) => mapper.write(chunk)).join('') + mapper.flush();
  assert.equal(shown, 'Traceback\n  File "/home/ana/shop/app/util.py", line 7\nValue');
  assert.equal(mapper.flush(), '');
});

test("stdout's unfinished line never joins stderr's", () => {
  const mappers = new StreamLineMappers<'stdout' | 'stderr'>((text) => text.toUpperCase());
  assert.equal(mappers.write('stdout', 'progress '), '');
  assert.equal(mappers.write('stderr', 'warning\n'), 'WARNING\n');
  assert.equal(mappers.write('stdout', '50%\r'), 'PROGRESS 50%\r');
  assert.equal(mappers.write('stdout', 'done'), '');
  assert.deepEqual(mappers.flush(), [{ stream: 'stdout', text: 'DONE' }]);
});
