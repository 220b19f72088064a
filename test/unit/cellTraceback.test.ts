/* eslint-disable no-control-regex -- the tracebacks under test are ANSI-coloured */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mapCellTraceback, pythonCells, type CellOrigin } from '../../src/core/index.ts';

/** Recorded by generate.py in that folder from real IPython kernels / shells. */
const fixtureFolder = join(__dirname, '..', 'support', 'fixtures', 'ipython-tracebacks');
const file = '/home/u/proj/analysis.py';

interface Fixture {
  name: string;
  ipython: string;
  cells: { executionCount: number; code: string }[];
  traceback: string[];
}

const fixtures: Fixture[] = readdirSync(fixtureFolder)
  .filter((name) => name.endsWith('.json'))
  .map((name) => ({
    name,
    ...(JSON.parse(readFileSync(join(fixtureFolder, name), 'utf8')) as Omit<Fixture, 'name'>),
  }));

function fixture(name: string): Fixture {
  return fixtures.find((candidate) => candidate.name === `${name}.json`)!;
}

const stripAnsi = (text: string) => text.replace(/\x1b\[[\d;]*m/g, '');

/**
 * The fixture's cells written as one .py file (after `fillerLines` lines of preamble), split
 * back with pythonCells, so the origins are the ones the Interactive Window would pass.
 */
function cellFile(cells: Fixture['cells'], fillerLines: number) {
  const filler = Array.from({ length: fillerLines }, (_, index) => `# note ${index}`);
  const source = [
    ...filler,
    ...cells.flatMap((cell, index) => [`# %% step ${index}`, cell.code, '']),
  ].join('\n');
  const parsed = pythonCells(source).filter((cell) => cell.title?.startsWith('step '));
  assert.equal(parsed.length, cells.length);
  const origins = new Map<number, CellOrigin>(
    cells.map((cell, index) => [cell.executionCount, { file, bodyLine: parsed[index]!.bodyLine }]),
  );
  return { lines: source.split('\n'), origins };
}

// The notebook error renderer's patterns for context lines: the current one, and an older one
// that only knows IPython 8's colours (`\x1b[0m` after the number).
const fileHeader = /File\s+(?:\u001b\[.+?m)?(.+):(\d+)/;
const rendererNumberedLines = [
  /^((?:\u001b\[.+?m|\s|-|>)*)(\d+)(?:\u001b\[.+?m)*( .*)/,
  /^((?:\u001b\[.+?m)?[ \->]+?)(\d+)(?:\u001b\[0m)?( .*)/,
];
const rendererPatternsFor = (ipython: string) =>
  ipython.startsWith('8.') ? rendererNumberedLines : rendererNumberedLines.slice(0, 1);

/** The renderer's cell headers (IPython ≥ 8.5 and 8.0–8.4), after which it links to cells instead. */
const cellHeaderForRenderer =
  /Cell(?:\u001b\[.+?m|\s)*In(?:\u001b\[.+?m|\s)*\[\d+\]|Input\s+?\u001b\[.+?mIn\s*\[\d+\]/;

/** The links the renderer makes from numbered lines after a `File path:line` header. */
function rendererLinks(stack: string, numberedLine: RegExp): { target: string; code: string }[] {
  const links: { target: string; code: string }[] = [];
  let path: string | undefined;
  for (const line of stack.split('\n')) {
    const header = fileHeader.exec(line);
    if (header) {
      path = stripAnsi(header[1]!).trim();
    } else if (line.trim() === '' || cellHeaderForRenderer.test(line)) {
      path = undefined;
    } else if (path !== undefined && numberedLine.test(line)) {
      const [, , number, code] = numberedLine.exec(line)!;
      links.push({ target: `${path}:${number}`, code: stripAnsi(code!).slice(1) });
    }
  }
  return links;
}

/** A context line without colours; IPython 9 glues a `(...)` gap to the line after it. */
const numberedText = /^(?: *\(\.\.\.\))?[ \->]*(\d+) (.*)$/;

/** The numbered lines (number, code) of the frames whose header line matches `header`. */
function framesLines(stack: string, header: RegExp): { number: number; code: string }[] {
  const found: { number: number; code: string }[] = [];
  let inFrame = false;
  for (const line of stripAnsi(stack).split('\n')) {
    const numbered = numberedText.exec(line);
    if (!numbered) {
      inFrame = header.test(line);
    } else if (inFrame) {
      found.push({ number: Number(numbered[1]), code: numbered[2]! });
    }
  }
  return found;
}

const cellHeader = /Cell In|Input In|ipython-input/;

for (const fillerLines of [0, 995]) {
  test(`every IPython version: each context line of a cell frame shows its file line (${fillerLines} lines before the cells)`, () => {
    for (const { name, cells, traceback } of fixtures) {
      const { lines, origins } = cellFile(cells, fillerLines);
      const stack = mapCellTraceback(traceback, origins).join('\n');
      const cellLines = framesLines(traceback.join('\n'), cellHeader);
      const fileLines = framesLines(stack, new RegExp(file));
      assert.equal(fileLines.length, cellLines.length, name);
      for (const { number, code } of fileLines) {
        assert.equal(code, lines[number - 1], `${name}: line ${number}`);
      }
      assert.doesNotMatch(stripAnsi(stack), cellHeader, name);
    }
  });

  test(`VS Code's error renderer links each context line of a mapped frame to its file line (${fillerLines} lines before the cells)`, () => {
    for (const { name, ipython, cells, traceback } of fixtures) {
      const { lines, origins } = cellFile(cells, fillerLines);
      const stack = mapCellTraceback(traceback, origins).join('\n');
      const numbered = stripAnsi(stack)
        .split('\n')
        .filter((line) => numberedText.test(line));
      for (const pattern of rendererPatternsFor(ipython)) {
        const links = rendererLinks(stack, pattern);
        // IPython 7 never writes `File` headers, so the renderer links nothing there.
        assert.equal(links.length, ipython.startsWith('7.') ? 0 : numbered.length, name);
        for (const link of links.filter((candidate) => candidate.target.startsWith(`${file}:`))) {
          const fileLine = Number(link.target.slice(file.length + 1));
          assert.equal(link.code.trimEnd(), lines[fileLine - 1], `${name}: ${link.target}`);
        }
      }
    }
  });
}

test('IPython 8.5: the header names the file line of the failing line, as IPython writes file frames', () => {
  const { traceback, cells } = fixture('error-in-earlier-cell');
  const mapped = mapCellTraceback(traceback, cellFile(cells, 0).origins);
  // The cells start at lines 1 and 6 (0-based) of the file: `# %% step 0`, three lines, a blank line.
  assert.equal(mapped[2]!.split('\n')[0], `File \x1b[0;32m${file}:9\x1b[0m`);
  assert.equal(
    mapped[3]!.split('\n')[0],
    `File \x1b[0;32m${file}:4\x1b[0m, in \x1b[0;36mdivide\x1b[0;34m(a, b)\x1b[0m`,
  );
  assert.deepEqual(stripAnsi(mapped.slice(2, 4).join('\n')).split('\n'), [
    `File ${file}:9`,
    '      7 y = 3',
    '      8 print(y)',
    '----> 9 divide(y, 0)',
    '',
    `File ${file}:4, in divide(a, b)`,
    '      2 def divide(a, b):',
    '      3     total = a + b',
    '----> 4     return a / b',
    '',
  ]);
});

const versionSuffix = (fixture: Fixture) => /(-ipython\d+)?\.json$/.exec(fixture.name)![1] ?? '';

/** A header with its path (and line, in any form) blanked, to compare the forms of two headers. */
function headerForm(header: string, path: string): string {
  return header
    .split('\n')[0]!
    .replace(new RegExp(`${path.replaceAll('.', '\\.')}(:\\d+)?`), 'PATH')
    .replace(/line (\x1b\[[\d;]*m)?\d+/, 'line $1N')
    .replace(/,? in .*/, '');
}

test("every IPython version: a mapped cell header has the form of that IPython's own file headers", () => {
  for (const scenario of fixtures.filter((candidate) =>
    candidate.name.startsWith('error-through-module'),
  )) {
    const suffix = versionSuffix(scenario);
    const mapped = mapCellTraceback(scenario.traceback, cellFile(scenario.cells, 0).origins);
    // Frame 3 is the helpers.py file frame, frame 4 a cell frame.
    assert.equal(
      headerForm(mapped[4]!, file),
      headerForm(scenario.traceback[3]!, '/workspace/proj/helpers.py'),
      scenario.name,
    );
    const syntaxError = fixture(`syntax-error${suffix}`);
    const realFileSyntaxError = fixture(`syntax-error-in-module${suffix}`).traceback[3]!;
    const mappedSyntaxError = mapCellTraceback(
      syntaxError.traceback,
      cellFile(syntaxError.cells, 0).origins,
    )[0]!;
    assert.equal(
      headerForm(mappedSyntaxError, file),
      headerForm(realFileSyntaxError, '/workspace/proj/broken.py'),
      syntaxError.name,
    );
    // `c = (3 +)` is line 3 of the cell, which starts at line 2 of the file; IPython 8.0–8.4
    // names no line for a SyntaxError, and it has no context lines to take one from.
    const named = /(?::|line \x1b\[[\d;]*m)(\d+)/.exec(mappedSyntaxError.replace(file, ''))?.[1];
    assert.equal(named, suffix === '-ipython84' ? undefined : '4', syntaxError.name);
  }
});

test('a `(...)` gap in a cell frame is kept, on its own line (IPython 8) or glued to the next (IPython 9)', () => {
  const frame = (name: string) => {
    const { traceback, cells } = fixture(name);
    return stripAnsi(mapCellTraceback(traceback, cellFile(cells, 0).origins)[2]!).split('\n');
  };
  const before = ['File PATH:14', '      2 data = [', '      3     0,', '      4     1,'];
  const after = ['     13 ]', '---> 14 1 / 0', ''];
  const withPath = (lines: string[]) => lines.map((line) => line.replace('PATH', file));
  assert.deepEqual(
    frame('error-after-long-statement'),
    withPath([...before, '   (...)', '     12     9,', ...after]),
  );
  assert.deepEqual(
    frame('error-after-long-statement-ipython918'),
    withPath([...before, '   (...)     12     9,', ...after]),
  );
});

test('file frames, other cells and the rest of the traceback stay byte-identical', () => {
  for (const { name, traceback, cells } of fixtures) {
    const { origins } = cellFile(cells, 0);
    const mapped = mapCellTraceback(traceback, origins);
    traceback.forEach((entry, index) => {
      if (!cellHeader.test(stripAnsi(entry))) {
        assert.equal(mapped[index], entry, `${name}[${index}]`);
      }
    });
    assert.deepEqual(mapCellTraceback(traceback, new Map()), traceback, name);
  }
  // Only the last cell's origin is known: the earlier cell's frame (after the file frame) stays.
  const { traceback, cells } = fixture('error-through-module');
  const mapped = mapCellTraceback(
    traceback,
    new Map([[cells[1]!.executionCount, { file, bodyLine: 40 }]]),
  );
  assert.notEqual(mapped[2], traceback[2]);
  assert.deepEqual(mapped.slice(3), traceback.slice(3));
});

test('numbers keep their column as they widen, the arrow shrinking as IPython does for files', () => {
  const { traceback, cells } = fixture('error-in-long-cell');
  const cellFrame = (bodyLine: number) =>
    mapCellTraceback(traceback, new Map([[cells[0]!.executionCount, { file, bodyLine }]]))[2]!;
  assert.deepEqual(stripAnsi(cellFrame(990)).split('\n'), [
    `File ${file}:1002`,
    '   1000 v10 = 10',
    '   1001 v11 = 11',
    '-> 1002 1 / 0',
    '   1003 v13 = 13',
    '   1004 v14 = 14',
    '',
  ]);
  // Past IPython's width the whole frame widens, so `> ` stays and the renderer still links.
  const wide = cellFrame(99_990);
  assert.deepEqual(stripAnsi(wide).split('\n'), [
    `File ${file}:100002`,
    '  100000 v10 = 10',
    '  100001 v11 = 11',
    '> 100002 1 / 0',
    '  100003 v13 = 13',
    '  100004 v14 = 14',
    '',
  ]);
  for (const pattern of rendererNumberedLines) {
    assert.deepEqual(
      rendererLinks(wide, pattern).map((link) => link.target),
      [100000, 100001, 100002, 100003, 100004].map((line) => `${file}:${line}`),
    );
  }
});
