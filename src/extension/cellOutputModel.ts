import type { KernelOutputEvent, MimeBundle } from '../core/index.ts';
import { renderStreamText } from './streamText.ts';

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
  | { kind: 'replace'; output: number; items: OutputItem[] }
  | { kind: 'clear' }
  | { kind: 'executionOrder'; value: number };

export const stdoutMime = 'application/vnd.code.notebook.stdout';
export const stderrMime = 'application/vnd.code.notebook.stderr';
export const errorMime = 'application/vnd.code.notebook.error';

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

function streamItem(name: 'stdout' | 'stderr', text: string): OutputItem {
  return {
    mime: name === 'stderr' ? stderrMime : stdoutMime,
    data: encoder.encode(renderStreamText(text)),
  };
}

/**
 * Turns one cell's output events into output operations with Jupyter's semantics: consecutive
 * stream text of one stream grows a single output, `clear_output(wait)` clears when the next
 * output arrives, `update_display_data` replaces the outputs that carry its display id.
 */
export class CellOutputModel {
  private nextOutput = 0;
  private stream: { name: 'stdout' | 'stderr'; text: string; output: number } | undefined;
  private displays = new Map<string, number[]>();
  private clearOnNextOutput = false;

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

  private streamText(name: 'stdout' | 'stderr', text: string): OutputOperation[] {
    const operations = this.clearIfPending();
    if (this.stream?.name === name) {
      this.stream.text += text;
      const item = streamItem(name, this.stream.text);
      return [...operations, { kind: 'replace', output: this.stream.output, items: [item] }];
    }
    const output = this.nextOutput++;
    this.stream = { name, text, output };
    return [...operations, { kind: 'append', output, items: [streamItem(name, text)] }];
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
    return [{ kind: 'clear' }];
  }
}
