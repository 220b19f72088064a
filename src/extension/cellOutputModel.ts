import type { KernelOutputEvent, MimeBundle } from '../core/index.ts';
import { defaultMaxOutputBytes, type OutputStream } from '../core/outputCollector.ts';
import { OutputCap } from './outputCap.ts';
import { StreamTextRenderer } from './streamText.ts';

/** One output item as VS Code stores it: a mime type and its bytes. */
export interface OutputItem {
  mime: string;
  data: Uint8Array;
}

/**
 * What to do to a cell's outputs, in order. Outputs are named by a number the model hands out
 * when it appends them, so the writer can find them again for replacements.
 */
export type OutputOperation =
  | { kind: 'append'; output: number; items: OutputItem[] }
  /** Adds items to an output: VS Code shows consecutive stream items as one text. */
  | { kind: 'appendItems'; output: number; items: OutputItem[] }
  | { kind: 'replace'; output: number; items: OutputItem[] }
  | { kind: 'clear' }
  | { kind: 'executionOrder'; value: number };

export const stdoutMime = 'application/vnd.code.notebook.stdout';
export const stderrMime = 'application/vnd.code.notebook.stderr';
export const errorMime = 'application/vnd.code.notebook.error';

type ItemsOperation = Extract<OutputOperation, { items: OutputItem[] }>;

/**
 * Folds operations that VS Code has not applied yet into fewer: text appended to an output joins
 * the operation before it on that output, and a replacement makes the edits just before it on
 * that output unneeded. Each edit costs VS Code time in proportion to the whole output, so the
 * edits must be few however many messages arrive.
 */
export function coalesce(operations: OutputOperation[]): OutputOperation[] {
  const folded: OutputOperation[] = [];
  for (const operation of operations) {
    const last = folded.at(-1);
    if (last && 'items' in last && 'items' in operation && last.output === operation.output) {
      const merged = foldInto(last, operation);
      if (merged) {
        folded[folded.length - 1] = merged;
        continue;
      }
    }
    folded.push(operation);
  }
  return folded.map((operation) =>
    'items' in operation ? { ...operation, items: joinAdjacent(operation.items) } : operation,
  );
}

function foldInto(last: ItemsOperation, next: ItemsOperation): ItemsOperation | undefined {
  if (next.kind === 'appendItems') {
    return { ...last, items: [...last.items, ...next.items] };
  }
  if (next.kind === 'replace' && last.kind !== 'append') {
    return next;
  }
  if (next.kind === 'replace') {
    return { ...last, items: next.items };
  }
  return undefined;
}

const streamMimes = new Set([stdoutMime, stderrMime]);

/** Stream items of one stream in a row become one item (VS Code shows them as one text anyway). */
function joinAdjacent(items: OutputItem[]): OutputItem[] {
  const joined: OutputItem[] = [];
  let run: OutputItem[] = [];
  const endRun = () => {
    if (run.length > 0) {
      joined.push(
        run.length === 1
          ? run[0]!
          : { mime: run[0]!.mime, data: Buffer.concat(run.map((item) => item.data)) },
      );
    }
    run = [];
  };
  for (const item of items) {
    if (run[0] && (run[0].mime !== item.mime || !streamMimes.has(item.mime))) {
      endRun();
    }
    run.push(item);
  }
  endRun();
  return joined;
}

/** Mime types in Jupyter's preference order; VS Code shows the richest it can render. */
const mimeOrder = [
  'application/json',
  'text/html',
  'text/markdown',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'text/plain',
];
const base64Mimes = new Set(['image/png', 'image/jpeg']);

const encoder = new TextEncoder();

/** The same bytes as `NotebookCellOutputItem.json`: tab-indented JSON. */
function jsonItem(value: unknown, mime: string): OutputItem {
  return { mime, data: encoder.encode(JSON.stringify(value, undefined, '\t')) };
}

/** A mime bundle's items in preference order; kinds VS Code cannot show are left out. */
export function mimeBundleItems(data: MimeBundle): OutputItem[] {
  return mimeOrder
    .filter((mime) => mime in data)
    .map((mime) => {
      const value = data[mime];
      if (mime === 'application/json') {
        return jsonItem(value, mime);
      }
      const text = Array.isArray(value) ? value.join('') : String(value);
      return {
        mime,
        data: base64Mimes.has(mime) ? Buffer.from(text, 'base64') : encoder.encode(text),
      };
    });
}

const streamItem = (name: OutputStream, text: string): OutputItem => ({
  mime: name === 'stderr' ? stderrMime : stdoutMime,
  data: encoder.encode(text),
});

/** The stream output that text of its stream grows. */
interface StreamOutput {
  name: OutputStream;
  output: number;
  renderer: StreamTextRenderer;
  /** The output's items, as sent. */
  items: OutputItem[];
  /** Where the unfinished last line starts in `items`: a rewrite of it replaces the items from here. */
  lineItem: number;
}

/**
 * Turns one cell's output events into output operations with Jupyter's semantics: consecutive
 * stream text of one stream grows a single output, `clear_output(wait)` clears when the next
 * output arrives, `update_display_data` replaces the outputs that carry its display id. Stream
 * text is appended, only an unfinished line that a carriage return or backspace rewrites is sent
 * again, and a cell's stream text beyond `maxBytes` is cut to its head and tail.
 */
export class CellOutputModel {
  private nextOutput = 0;
  private stream: StreamOutput | undefined;
  private displays = new Map<string, number[]>();
  private clearOnNextOutput = false;
  private readonly cap: OutputCap;

  constructor(maxBytes = defaultMaxOutputBytes) {
    this.cap = new OutputCap(maxBytes);
  }

  /** The stream text the cap held back, behind its marker: called once the cell has run. */
  finish(): OutputOperation[] {
    return this.cap.finish().flatMap((chunk) => this.render(chunk.stream, chunk.text));
  }

  apply(event: KernelOutputEvent): OutputOperation[] {
    switch (event.type) {
      case 'execute_input':
        return event.executionCount === null
          ? []
          : [{ kind: 'executionOrder', value: event.executionCount }];
      case 'stream':
        return this.streamText(event.name, event.text);
      case 'input_request':
        // The prompt is what input() writes to stdout before it waits.
        return this.streamText('stdout', event.prompt);
      case 'display_data':
      case 'execute_result': {
        const operations = this.beforeNewOutput();
        const output = this.nextOutput++;
        if (event.type === 'display_data' && event.displayId) {
          this.displays.set(event.displayId, [
            ...(this.displays.get(event.displayId) ?? []),
            output,
          ]);
        }
        return [...operations, { kind: 'append', output, items: mimeBundleItems(event.data) }];
      }
      case 'update_display_data':
        return (this.displays.get(event.displayId) ?? []).map((output) => ({
          kind: 'replace',
          output,
          items: mimeBundleItems(event.data),
        }));
      case 'clear_output':
        if (event.wait) {
          this.clearOnNextOutput = true;
          return [];
        }
        return this.clear();
      case 'error': {
        const operations = this.beforeNewOutput();
        const item = jsonItem(
          { name: event.ename, message: event.evalue, stack: event.traceback.join('\n') },
          errorMime,
        );
        return [...operations, { kind: 'append', output: this.nextOutput++, items: [item] }];
      }
    }
  }

  private streamText(name: OutputStream, text: string): OutputOperation[] {
    const operations = this.clearIfPending();
    const shown = this.cap.admit({ stream: name, text });
    return shown ? [...operations, ...this.render(name, shown.text)] : operations;
  }

  private render(name: OutputStream, text: string): OutputOperation[] {
    let stream = this.stream;
    const isNew = stream?.name !== name;
    if (!stream || isNew) {
      const output = this.nextOutput++;
      stream = { name, output, renderer: new StreamTextRenderer(), items: [], lineItem: 0 };
      this.stream = stream;
    }
    const { rewound, text: rendered } = stream.renderer.write(text);
    if (rewound) {
      stream.items = stream.items.slice(0, stream.lineItem);
    }
    // Finished lines and the unfinished one in separate items, so a rewrite sends only the latter.
    const lineStart = rendered.lastIndexOf('\n') + 1;
    const added = [rendered.slice(0, lineStart), rendered.slice(lineStart)]
      .filter((part) => part !== '')
      .map((part) => streamItem(name, part));
    if (lineStart > 0) {
      stream.lineItem = stream.items.length + 1;
    }
    stream.items.push(...added);
    if (isNew) {
      const items = stream.items.length > 0 ? [...stream.items] : [streamItem(name, '')];
      return [{ kind: 'append', output: stream.output, items }];
    }
    if (rewound) {
      return [{ kind: 'replace', output: stream.output, items: [...stream.items] }];
    }
    return added.length > 0 ? [{ kind: 'appendItems', output: stream.output, items: added }] : [];
  }

  /** A rich output or an error ends the current stream output: later text starts a new one. */
  private beforeNewOutput(): OutputOperation[] {
    const operations = this.clearIfPending();
    this.stream = undefined;
    return operations;
  }

  private clearIfPending(): OutputOperation[] {
    if (!this.clearOnNextOutput) {
      return [];
    }
    this.clearOnNextOutput = false;
    return this.clear();
  }

  private clear(): OutputOperation[] {
    this.stream = undefined;
    this.displays = new Map();
    // What was cleared away no longer counts towards the cap, and its held tail is not shown.
    this.cap.finish();
    return [{ kind: 'clear' }];
  }
}
