import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileLocations, linkableLocations } from '../../src/extension/fileLocations.ts';
import {
  idleFlushMs,
  LineMapper,
  maxHeldChars,
  StreamLineMappers,
} from '../../src/extension/lineMapper.ts';

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

test('bash (`path: line N:`) and dash (`path: N:`) errors are found, without the colon after the line', () => {
  const text = [
    '/home/ana/run.sh: line 9: foo: command not found',
    '/home/ana/run.sh: 2: nosuch: not found',
    '/home/ana/notes.txt: see above: 3 items',
  ].join('\n');
  assert.deepEqual(located(text), [
    { path: '/home/ana/run.sh', line: 9, linked: '/home/ana/run.sh: line 9' },
    { path: '/home/ana/run.sh', line: 2, linked: '/home/ana/run.sh: 2' },
  ]);
});

const frames = (count: number, distinctFiles: number) =>
  Array.from(
    { length: count },
    (_, i) => `  File "/home/ana/app/m${i % distinctFiles}.py", line ${i + 1}, in f\n`,
  ).join('');

test('40,000 locations are found in one linear pass, each existing file checked once', () => {
  const text = frames(40_000, 50);
  const checked: string[] = [];
  const started = performance.now();
  const links = linkableLocations(text, (path) => (checked.push(path), !path.endsWith('m7.py')), {
    maxScannedChars: text.length,
    maxLinks: 40_000,
  });
  const elapsed = performance.now() - started;
  assert.equal(links.length, 40_000 - 40_000 / 50);
  assert.equal(checked.length, 50);
  assert.equal(text.slice(links[0]!.start, links[0]!.end), 'File "/home/ana/app/m0.py", line 1');
  // The quadratic search took over 6 s for this; a linear one takes tens of milliseconds.
  assert.ok(elapsed < 1000, `took ${Math.round(elapsed)} ms`);
});

test('only the tail of a huge document is searched, and only the last links are made', () => {
  const text = frames(40_000, 40_000);
  const byWindow = linkableLocations(text, () => true, {
    maxScannedChars: 10_000,
    maxLinks: 40_000,
  });
  assert.ok(byWindow.length > 100 && byWindow.length < 250, `${byWindow.length} links`);
  assert.equal(byWindow.at(-1)!.line, 40_000);
  assert.ok(text.length - byWindow[0]!.start <= 10_000);
  assert.equal(text[byWindow[0]!.start - 3], '\n', 'the window starts at a line');
  const byCount = linkableLocations(text, () => true, {
    maxScannedChars: text.length,
    maxLinks: 10,
  });
  assert.deepEqual(
    byCount.map(({ line }) => line),
    Array.from({ length: 10 }, (_, i) => 39_991 + i),
  );
});

/** A mapper whose emitted text is collected in `shown`. */
function collectingMapper(map: (text: string) => string) {
  const shown: string[] = [];
  const mapper = new LineMapper(map, (text) => shown.push(text));
  return { mapper, shown: () => shown.join('') };
}

test('the line mapper maps whole lines: a path split across chunks is still mapped', () => {
  const { mapper, shown } = collectingMapper((text) =>
    text.replaceAll('/workspace/shop', '/home/ana/shop'),
  );
  const chunks = ['Traceback\n  File "/works', 'pace/sh', 'op/app/util.py", line 7\n', 'Value'];
  chunks.forEach((chunk) => mapper.write(chunk));
  assert.equal(shown(), 'Traceback\n  File "/home/ana/shop/app/util.py", line 7\n');
  mapper.flush();
  assert.equal(shown(), 'Traceback\n  File "/home/ana/shop/app/util.py", line 7\nValue');
  mapper.flush();
  assert.equal(shown(), 'Traceback\n  File "/home/ana/shop/app/util.py", line 7\nValue');
});

test('16 MB without a newline stream through in linear time, at most 4 KB held back', () => {
  let mapped = 0;
  const { mapper, shown } = collectingMapper((text) => ((mapped += text.length), text));
  const chunk = 'x'.repeat(16 * 1024);
  const started = performance.now();
  for (let i = 0; i < 1024; i++) {
    mapper.write(chunk);
  }
  const elapsed = performance.now() - started;
  assert.equal(shown().length, 16 * 1024 * 1024 - maxHeldChars);
  assert.equal(mapped, shown().length, 'each character is mapped once');
  // Rescanning the held text on every write took seconds and held all 16 MB.
  assert.ok(elapsed < 1000, `took ${Math.round(elapsed)} ms`);
  mapper.flush();
  assert.equal(shown().length, 16 * 1024 * 1024);
});

test('an unfinished line (a prompt, progress dots) is shown once the stream is idle', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { mapper, shown } = collectingMapper((text) => text.toUpperCase());
  mapper.write('working.');
  mapper.write('.');
  assert.equal(shown(), '');
  t.mock.timers.tick(idleFlushMs - 1);
  assert.equal(shown(), '');
  t.mock.timers.tick(1);
  assert.equal(shown(), 'WORKING..');
  mapper.write('Enter your name: ');
  t.mock.timers.tick(idleFlushMs);
  assert.equal(shown(), 'WORKING..ENTER YOUR NAME: ');
  mapper.write(' done\n');
  assert.equal(shown(), 'WORKING..ENTER YOUR NAME:  DONE\n');
});

test("stdout's unfinished line never joins stderr's", () => {
  const shown: { stream: string; text: string }[] = [];
  const mappers = new StreamLineMappers<'stdout' | 'stderr'>(
    (text) => text.toUpperCase(),
    (stream, text) => shown.push({ stream, text }),
  );
  mappers.write('stdout', 'progress ');
  mappers.write('stderr', 'warning\n');
  mappers.write('stdout', '50%\r');
  mappers.write('stdout', 'done');
  mappers.flush();
  assert.deepEqual(shown, [
    { stream: 'stderr', text: 'WARNING\n' },
    { stream: 'stdout', text: 'PROGRESS 50%\r' },
    { stream: 'stdout', text: 'DONE' },
  ]);
});
