import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KernelOutputEvent } from '../../src/core/index.ts';
import {
  CellOutputModel,
  errorMime,
  mimeBundleItems,
  stderrMime,
  stdoutMime,
  type OutputOperation,
} from '../../src/extension/cellOutputModel.ts';

const decoder = new TextDecoder();

/** Operations with their items' bytes shown as text (mime: text), for readable comparisons. */
function readable(operations: OutputOperation[]): unknown[] {
  return operations.map((operation) =>
    'items' in operation
      ? {
          ...operation,
          items: operation.items.map((item) => `${item.mime}: ${decoder.decode(item.data)}`),
        }
      : operation,
  );
}

function applyAll(events: KernelOutputEvent[]): unknown[] {
  const model = new CellOutputModel();
  return events.flatMap((event) => readable(model.apply(event)));
}

const stdout = (text: string): KernelOutputEvent => ({ type: 'stream', name: 'stdout', text });
const stderr = (text: string): KernelOutputEvent => ({ type: 'stream', name: 'stderr', text });
const display = (text: string, displayId?: string): KernelOutputEvent => ({
  type: 'display_data',
  data: { 'text/plain': text },
  metadata: {},
  ...(displayId ? { displayId } : {}),
});

describe('cell output model', () => {
  test('text of one stream grows one output; another stream starts a new one', () => {
    assert.deepEqual(applyAll([stdout('a'), stdout('b\n'), stderr('oops\n'), stdout('c')]), [
      { kind: 'append', output: 0, items: [`${stdoutMime}: a`] },
      { kind: 'replace', output: 0, items: [`${stdoutMime}: ab\n`] },
      { kind: 'append', output: 1, items: [`${stderrMime}: oops\n`] },
      { kind: 'append', output: 2, items: [`${stdoutMime}: c`] },
    ]);
  });

  test('carriage returns in stream text overwrite the line, across messages', () => {
    assert.deepEqual(applyAll([stdout('10%'), stdout('\r100%\n')]).at(-1), {
      kind: 'replace',
      output: 0,
      items: [`${stdoutMime}: 100%\n`],
    });
  });

  test('a rich output ends the stream output: later text starts a new output', () => {
    assert.deepEqual(applyAll([stdout('before\n'), display('shown'), stdout('after\n')]), [
      { kind: 'append', output: 0, items: [`${stdoutMime}: before\n`] },
      { kind: 'append', output: 1, items: ['text/plain: shown'] },
      { kind: 'append', output: 2, items: [`${stdoutMime}: after\n`] },
    ]);
  });

  test('clear_output clears at once; with wait, only when the next output arrives', () => {
    assert.deepEqual(applyAll([stdout('1'), { type: 'clear_output', wait: false }, stdout('2')]), [
      { kind: 'append', output: 0, items: [`${stdoutMime}: 1`] },
      { kind: 'clear' },
      { kind: 'append', output: 1, items: [`${stdoutMime}: 2`] },
    ]);
    assert.deepEqual(applyAll([stdout('1'), { type: 'clear_output', wait: true }, stdout('2')]), [
      { kind: 'append', output: 0, items: [`${stdoutMime}: 1`] },
      { kind: 'clear' },
      { kind: 'append', output: 1, items: [`${stdoutMime}: 2`] },
    ]);
    assert.deepEqual(applyAll([{ type: 'clear_output', wait: true }]), []);
  });

  test('update_display_data replaces every output with its display id, and nothing else', () => {
    const update: KernelOutputEvent = {
      type: 'update_display_data',
      data: { 'text/plain': 'new' },
      metadata: {},
      displayId: 'd1',
    };
    assert.deepEqual(
      applyAll([display('old', 'd1'), display('other'), display('again', 'd1'), update]),
      [
        { kind: 'append', output: 0, items: ['text/plain: old'] },
        { kind: 'append', output: 1, items: ['text/plain: other'] },
        { kind: 'append', output: 2, items: ['text/plain: again'] },
        { kind: 'replace', output: 0, items: ['text/plain: new'] },
        { kind: 'replace', output: 2, items: ['text/plain: new'] },
      ],
    );
  });

  test('a display cleared away is no longer updated', () => {
    const model = new CellOutputModel();
    model.apply(display('old', 'd1'));
    model.apply({ type: 'clear_output', wait: false });
    const update = model.apply({
      type: 'update_display_data',
      data: { 'text/plain': 'new' },
      metadata: {},
      displayId: 'd1',
    });
    assert.deepEqual(update, []);
  });

  test('errors become error items with the traceback as the stack', () => {
    const [operation] = new CellOutputModel().apply({
      type: 'error',
      ename: 'ZeroDivisionError',
      evalue: 'division by zero',
      traceback: ['line 1', 'line 2'],
    });
    assert.equal(operation?.kind, 'append');
    const item = operation.kind === 'append' ? operation.items[0] : undefined;
    assert.equal(item?.mime, errorMime);
    assert.deepEqual(JSON.parse(decoder.decode(item?.data)), {
      name: 'ZeroDivisionError',
      message: 'division by zero',
      stack: 'line 1\nline 2',
    });
  });

  test('execution counts set the execution order; an input prompt is stdout text', () => {
    assert.deepEqual(
      applyAll([
        { type: 'execute_input', executionCount: 7 },
        { type: 'execute_input', executionCount: null },
        { type: 'input_request', prompt: 'Name? ', password: false },
        stdout('got it\n'),
      ]),
      [
        { kind: 'executionOrder', value: 7 },
        { kind: 'append', output: 0, items: [`${stdoutMime}: Name? `] },
        { kind: 'replace', output: 0, items: [`${stdoutMime}: Name? got it\n`] },
      ],
    );
  });
});

describe('mime bundles', () => {
  test('items come in preference order; unknown kinds are left out', () => {
    const items = mimeBundleItems({
      'text/plain': 'plain',
      'application/x-unknown': 'x',
      'text/html': ['<b>', 'bold</b>'],
      'image/png': Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString('base64'),
    });
    assert.deepEqual(
      items.map((item) => item.mime),
      ['text/html', 'image/png', 'text/plain'],
    );
    assert.equal(decoder.decode(items[0]?.data), '<b>bold</b>');
    assert.deepEqual([...(items[1]?.data ?? [])], [0x89, 0x50, 0x4e, 0x47]);
  });

  test('JSON data is serialized as VS Code serializes JSON items', () => {
    const [item] = mimeBundleItems({ 'application/json': { a: [1, 2] } });
    assert.equal(decoder.decode(item?.data), JSON.stringify({ a: [1, 2] }, undefined, '\t'));
  });
});
