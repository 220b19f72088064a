import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KernelOutputEvent } from '../../src/core/index.ts';
import {
  CellOutputModel,
  coalesce,
  errorMime,
  mimeBundleItems,
  stderrMime,
  stdoutMime,
  type OutputItem,
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
      { kind: 'appendItems', output: 0, items: [`${stdoutMime}: b\n`] },
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
        { kind: 'appendItems', output: 0, items: [`${stdoutMime}: got it\n`] },
      ],
    );
  });
});

/**
 * Applies operations as VS Code does, and counts the bytes of every item it is handed for the
 * first time: what rendering, encoding and sending the output cost.
 */
class ShownOutputs {
  readonly outputs = new Map<number, OutputItem[]>();
  newBytes = 0;
  private readonly seen = new Set<OutputItem>();

  apply(operations: OutputOperation[]): void {
    for (const operation of operations) {
      if (operation.kind === 'clear') {
        this.outputs.clear();
      } else if (operation.kind !== 'executionOrder') {
        const before = operation.kind === 'appendItems' ? this.outputs.get(operation.output) : [];
        this.outputs.set(operation.output, [...(before ?? []), ...operation.items]);
        for (const item of operation.items.filter((item) => !this.seen.has(item))) {
          this.seen.add(item);
          this.newBytes += item.data.length;
        }
      }
    }
  }

  text(output = 0): string {
    return (this.outputs.get(output) ?? []).map((item) => decoder.decode(item.data)).join('');
  }
}

describe('stream output cost and cap', () => {
  /** `messages` messages of 10 kB of lines; returns the bytes handed out for the first time. */
  function streamedCost(messages: number): number {
    const model = new CellOutputModel();
    const shown = new ShownOutputs();
    const message = `${'x'.repeat(99)}\n`.repeat(100);
    for (let index = 0; index < messages; index++) {
      shown.apply(model.apply(stdout(message)));
    }
    shown.apply(model.finish());
    assert.equal(shown.text(), message.repeat(messages));
    return shown.newBytes;
  }

  test('stream text is appended: the cost is linear in the output, not in messages times output', () => {
    assert.equal(streamedCost(100), 1_000_000);
    assert.equal(streamedCost(400), 4_000_000);
  });

  test('a carriage return re-sends only the unfinished line, however much output came before', () => {
    const model = new CellOutputModel();
    const shown = new ShownOutputs();
    shown.apply(model.apply(stdout(`${'y'.repeat(999)}\n`.repeat(1000))));
    const before = shown.newBytes;
    for (let percent = 1; percent <= 100; percent++) {
      shown.apply(model.apply(stdout(`\rprogress ${percent}%`)));
    }
    shown.apply(model.apply(stdout(' done\nnext\n')));
    assert.ok(shown.newBytes - before < 100 * 20, `bytes sent again: ${shown.newBytes - before}`);
    assert.equal(shown.text(), `${'y'.repeat(999)}\n`.repeat(1000) + 'progress 100% done\nnext\n');
  });

  test("a cell's stream text beyond the cap keeps its head and tail with a marker", () => {
    const model = new CellOutputModel(100);
    const shown = new ShownOutputs();
    for (let index = 0; index < 10; index++) {
      shown.apply(model.apply(stdout(String(index).repeat(30))));
    }
    assert.equal(shown.text(), '0'.repeat(30) + '1'.repeat(20), 'only the head before the end');
    shown.apply(model.finish());
    assert.equal(
      shown.text(),
      `${'0'.repeat(30)}${'1'.repeat(20)}\n... [200 bytes of output truncated] ...\n${'8'.repeat(20)}${'9'.repeat(30)}`,
    );
    assert.deepEqual(model.finish(), [], 'the held tail is written once');
  });

  test('clearing the output starts the cap over', () => {
    const model = new CellOutputModel(100);
    const shown = new ShownOutputs();
    for (let index = 0; index < 10; index++) {
      shown.apply(model.apply({ type: 'clear_output', wait: true }));
      shown.apply(model.apply(stdout(`step ${index}: ${'z'.repeat(60)}`)));
    }
    shown.apply(model.finish());
    assert.equal([...shown.outputs.values()].length, 1);
    assert.equal(
      [...shown.outputs.values()][0]?.map((item) => decoder.decode(item.data)).join(''),
      `step 9: ${'z'.repeat(60)}`,
    );
  });
});

describe('folding operations VS Code has not applied yet', () => {
  const item = (text: string, mime = stdoutMime): OutputItem => ({
    mime,
    data: new TextEncoder().encode(text),
  });

  test('many appends become one edit with one item per stream; what a replacement overrides goes', () => {
    const operations: OutputOperation[] = [
      { kind: 'append', output: 0, items: [item('a')] },
      ...Array.from({ length: 100 }, (): OutputOperation => ({
        kind: 'appendItems',
        output: 0,
        items: [item('b')],
      })),
      { kind: 'append', output: 1, items: [item('e', stderrMime)] },
      { kind: 'appendItems', output: 1, items: [item('f', stderrMime)] },
      { kind: 'replace', output: 1, items: [item('g', stderrMime)] },
      { kind: 'replace', output: 1, items: [item('h', stderrMime), item('i', stderrMime)] },
      { kind: 'appendItems', output: 1, items: [item('j', stderrMime)] },
    ];
    assert.deepEqual(readable(coalesce(operations)), [
      { kind: 'append', output: 0, items: [`${stdoutMime}: a${'b'.repeat(100)}`] },
      { kind: 'append', output: 1, items: [`${stderrMime}: hij`] },
    ]);
  });

  test('a clear and other outputs keep their place; rich items are never joined', () => {
    const rich: OutputOperation = {
      kind: 'append',
      output: 2,
      items: [item('<b>', 'text/html'), item('b', 'text/plain')],
    };
    const operations: OutputOperation[] = [
      { kind: 'appendItems', output: 0, items: [item('a')] },
      { kind: 'clear' },
      { kind: 'appendItems', output: 0, items: [item('b')] },
      rich,
      { kind: 'appendItems', output: 0, items: [item('c')] },
    ];
    assert.deepEqual(readable(coalesce(operations)), readable(operations));
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
