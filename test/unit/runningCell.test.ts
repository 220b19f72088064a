import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeHashOf, recordedCell, type RunningCell } from '../../src/extension/runningCell.ts';

/** A notebook of code cells, as far as finding a recorded cell reads it. */
function notebookOf(codes: string[]) {
  const cells = codes.map((code, index) => ({ index, document: { getText: () => code } }));
  return {
    cellCount: cells.length,
    cellAt: (index: number) => cells[index]! as never,
  };
}

const waiting = 'while not done():\n    wait()';
const runningAt = (cell: number): RunningCell => ({
  cell,
  codeHash: codeHashOf(waiting),
  requestId: 'request-1',
});
const indexOf = (cell: unknown) => (cell as { index: number } | undefined)?.index;

test('the recorded cell is the one at its index while it holds the same code', () => {
  const notebook = notebookOf(['x = 41', waiting, waiting]);
  assert.equal(indexOf(recordedCell(notebook, runningAt(2))), 2);
});

test('a cell added above the recorded one: the cell holding its code, not the one at its index', () => {
  const notebook = notebookOf(['# a note', 'x = 41', waiting]);
  assert.equal(indexOf(recordedCell(notebook, runningAt(1))), 2);
  assert.equal(indexOf(recordedCell(notebookOf([waiting]), runningAt(3))), 0, 'cells removed');
});

test('no cell holds the recorded code any more: no cell', () => {
  const notebook = notebookOf(['x = 41', `${waiting}\nprint("edited")`]);
  assert.equal(recordedCell(notebook, runningAt(1)), undefined);
  assert.equal(recordedCell(notebookOf([]), runningAt(0)), undefined);
});
