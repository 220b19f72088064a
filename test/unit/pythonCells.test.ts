import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cellAt,
  codeFromLine,
  hasCellMarkers,
  pythonCells,
  type PythonCell,
} from '../../src/core/index.ts';

const lines = (...text: string[]) => text.join('\n');

test('every marker form starts a cell; the text after it is the title', () => {
  const source = lines(
    '# %%',
    'a = 1',
    '#%% Load data',
    'b = 2',
    '# In[ ]:',
    'c = 3',
    '# In[12]: Model',
    'd = 4',
    '#%%',
    'e = 5',
    '# In[ 7 ]:',
    'f = 6',
  );
  assert.equal(hasCellMarkers(source), true);
  assert.deepEqual(
    pythonCells(source).map(({ markerLine, text, title }) => ({ markerLine, text, title })),
    [
      { markerLine: 0, text: 'a = 1', title: undefined },
      { markerLine: 2, text: 'b = 2', title: 'Load data' },
      { markerLine: 4, text: 'c = 3', title: undefined },
      { markerLine: 6, text: 'd = 4', title: 'Model' },
      { markerLine: 8, text: 'e = 5', title: undefined },
      { markerLine: 10, text: 'f = 6', title: undefined },
    ],
  );
});

test('look-alikes are no markers: %%% or %%abc, indented markers, a prefix inside a string', () => {
  const source = lines(
    '# %%',
    'x = 1',
    '# %%%',
    '# %%abc',
    '    # %%',
    '\t#%%',
    '#  %%',
    "s = '# %%'",
    '# In[x]:',
  );
  const cells = pythonCells(source);
  assert.equal(cells.length, 1);
  assert.equal(cells[0]!.text, source.split('\n').slice(1).join('\n'));
  assert.equal(hasCellMarkers(lines('# %%%', '    # %%', 'x = 1')), false);
});

test('a file without markers has no cells', () => {
  assert.deepEqual(pythonCells(lines('import os', 'print(os.getcwd())', '')), []);
  assert.equal(hasCellMarkers('print(1)\n'), false);
  assert.deepEqual(pythonCells(''), []);
});

test('line numbers: marker, body (the first non-blank line, where IPython counts line 1) and end', () => {
  const source = lines(
    'import os', //     0  preamble
    '', //              1
    '# %% first', //    2
    '', //              3  IPython drops this line, so cell line 1 is line 4
    'x = 1', //         4
    '  ', //            5
    'y = 2', //         6
    '', //              7
    '', //              8
    '# %%', //          9
    'z = 3', //        10
  );
  const summary = (cell: PythonCell) => [cell.kind, cell.markerLine, cell.bodyLine, cell.endLine];
  const cells = pythonCells(source);
  assert.deepEqual(cells.map(summary), [
    ['code', 0, 0, 1],
    ['code', 2, 4, 8],
    ['code', 9, 10, 10],
  ]);
  assert.deepEqual(
    cells.map((cell) => cell.text),
    ['import os', 'x = 1\n  \ny = 2', 'z = 3'],
  );
  for (const cell of cells) {
    assert.equal(source.split('\n')[cell.bodyLine], cell.text.split('\n')[0]);
  }
});

test('the preamble is a cell only when it has non-blank text, and starts at line 0', () => {
  const blank = pythonCells(lines('', '   ', '# %%', 'x = 1'));
  assert.deepEqual(
    blank.map((cell) => [cell.markerLine, cell.bodyLine, cell.endLine]),
    [[2, 3, 3]],
  );
  const commented = pythonCells(lines('', '#!/usr/bin/env python3', '', '# %%', 'x = 1'));
  assert.deepEqual(
    commented.map((cell) => [cell.markerLine, cell.bodyLine, cell.endLine, cell.text]),
    [
      [0, 1, 2, '#!/usr/bin/env python3'],
      [3, 4, 4, 'x = 1'],
    ],
  );
});

test('empty cells: markers back to back, or only blank lines, the last line of the file', () => {
  const cells = pythonCells(lines('# %% a', '# %% b', '', '  ', '# %% c', 'x = 1', '# %% d'));
  assert.deepEqual(
    cells.map(({ title, markerLine, bodyLine, endLine, text }) => [
      title,
      markerLine,
      bodyLine,
      endLine,
      text,
    ]),
    [
      ['a', 0, 1, 0, ''],
      ['b', 1, 2, 3, ''],
      ['c', 4, 5, 5, 'x = 1'],
      ['d', 6, 7, 6, ''],
    ],
  );
});

test('markdown cells: comment prefixes removed, or the content of one triple-quoted string', () => {
  const source = lines(
    '# %% [markdown]',
    '# # Results',
    '#',
    '# Some *text*.',
    '#%% [md] Notes',
    '"""',
    'Plain **markdown**',
    '"""',
    '# %% [markdown] Summary line',
    "'''One line'''",
    '# %%',
    '"""Not markdown"""',
  );
  assert.deepEqual(
    pythonCells(source).map(({ kind, text, title }) => ({ kind, text, title })),
    [
      { kind: 'markdown', text: '# Results\n\nSome *text*.', title: undefined },
      { kind: 'markdown', text: 'Plain **markdown**', title: 'Notes' },
      { kind: 'markdown', text: 'One line', title: 'Summary line' },
      { kind: 'code', text: '"""Not markdown"""', title: undefined },
    ],
  );
  const twoStrings = pythonCells(lines('# %% [markdown]', '"""a"""', '"""b"""'));
  assert.equal(twoStrings[0]!.text, '"""a"""\n"""b"""');
});

test('CRLF files give the same cells and line numbers, with \\n in the text', () => {
  const source = lines(
    'import os',
    '# %% one',
    'x = 1',
    'y = 2',
    '',
    '# %% [markdown]',
    '# hi',
    '',
  );
  const crlf = source.replaceAll('\n', '\r\n');
  assert.deepEqual(pythonCells(crlf), pythonCells(source));
  assert.equal(pythonCells(crlf)[1]!.text, 'x = 1\ny = 2');
  assert.equal(hasCellMarkers(crlf), true);
});

test('cellAt finds the cell of a line, the preamble included, and nothing before an absent one', () => {
  const withPreamble = pythonCells(lines('', 'import os', '# %%', 'x = 1', '', '# %%', 'y = 2'));
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((line) => cellAt(withPreamble, line)?.markerLine),
    [0, 0, 2, 2, 2, 5, 5, undefined],
  );
  const withoutPreamble = pythonCells(lines('', '# %%', 'x = 1'));
  assert.deepEqual(
    [0, 1, 2].map((line) => cellAt(withoutPreamble, line)?.markerLine),
    [undefined, 1, 1],
  );
});

test('#%%[markdown] without a space starts a markdown cell, as the Jupyter extension reads it', () => {
  const cells = pythonCells('# %%\nx = 1\n#%%[markdown]\n# Title\n');
  assert.deepEqual(
    cells.map((cell) => [cell.kind, cell.markerLine, cell.text]),
    [
      ['code', 0, 'x = 1'],
      ['markdown', 2, 'Title'],
    ],
  );
});

test('code from a line leaves out its leading whitespace-only lines and starts after them', () => {
  assert.deepEqual(codeFromLine('\f\n \t\nx = 1\n\n', 4), { text: 'x = 1', bodyLine: 6 });
  assert.deepEqual(codeFromLine('y = 2', 0), { text: 'y = 2', bodyLine: 0 });
  assert.deepEqual(codeFromLine('\n\n', 3), { text: '', bodyLine: 3 });
});
