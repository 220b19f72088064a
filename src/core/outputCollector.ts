import { StringDecoder } from 'node:string_decoder';

/** Output kept per run unless told otherwise: beyond it, the head and the tail. */
export const defaultMaxOutputBytes = 10 * 1024 * 1024;

export type OutputStream = 'stdout' | 'stderr';

export interface OutputChunk {
  stream: OutputStream;
  text: string;
}

/**
 * Collects a command's output in arrival order: an incremental UTF-8 decoder per stream (a
 * character split across frames stays whole, invalid bytes become U+FFFD), and, beyond
 * `maxBytes`, only the head and the tail with a marker saying how much was left out.
 */
export class OutputCollector {
  private readonly decoders = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };
  private head = '';
  private headBytes = 0;
  private readonly tail: BoundedTail<{ text: string }>;

  constructor(
    private readonly maxBytes: number,
    private readonly onChunk?: (chunk: OutputChunk) => void,
  ) {
    this.tail = new BoundedTail(maxBytes - Math.floor(maxBytes / 2));
  }

  push(stream: OutputStream, bytes: Buffer): void {
    this.append(stream, this.decoders[stream].write(bytes));
  }

  /** Appends output that arrives already decoded (a kernel's stream message). */
  pushText(stream: OutputStream, text: string): void {
    this.append(stream, text);
  }

  /** Whether nothing has been collected yet. */
  get isEmpty(): boolean {
    return this.headBytes === 0 && this.tail.pieces.length === 0 && this.tail.droppedBytes === 0;
  }

  /** Appends text that is not program output (e.g. the timeout notice). */
  note(text: string): void {
    this.store(text);
  }

  /** Flushes partial characters and returns the collected text. */
  finish(): string {
    for (const stream of ['stdout', 'stderr'] as const) {
      this.append(stream, this.decoders[stream].end());
    }
    const tail = this.tail.pieces.map((piece) => piece.text).join('');
    if (this.tail.droppedBytes === 0) {
      return this.head + tail;
    }
    return `${this.head}\n... [${this.tail.droppedBytes} bytes of output truncated] ...\n${tail}`;
  }

  private append(stream: OutputStream, text: string): void {
    if (text) {
      this.onChunk?.({ stream, text });
      this.store(text);
    }
  }

  private store(text: string): void {
    const headLimit = Math.floor(this.maxBytes / 2);
    if (this.tail.pieces.length === 0 && this.headBytes < headLimit) {
      const fits = prefixWithin(text, headLimit - this.headBytes);
      this.head += fits;
      this.headBytes += Buffer.byteLength(fits);
      text = text.slice(fits.length);
      if (!text) {
        return;
      }
    }
    this.tail.push({ text });
  }
}

/**
 * The latest `maxBytes` of UTF-8 text arriving in pieces: the oldest pieces go first, and the
 * oldest kept one is cut at a byte offset, dropping the broken start of a character it splits.
 */
export class BoundedTail<T extends { readonly text: string }> {
  private readonly kept: T[] = [];
  private keptBytes = 0;
  private dropped = 0;

  constructor(private readonly maxBytes: number) {}

  /** The pieces kept, oldest first. */
  get pieces(): readonly T[] {
    return this.kept;
  }

  /** How many bytes of text have been left out so far. */
  get droppedBytes(): number {
    return this.dropped;
  }

  push(piece: T): void {
    this.kept.push(piece);
    this.keptBytes += Buffer.byteLength(piece.text);
    let excess = this.keptBytes - this.maxBytes;
    let drop = 0;
    while (excess > 0 && drop < this.kept.length) {
      const oldest = this.kept[drop]!;
      const bytes = Buffer.byteLength(oldest.text);
      if (bytes <= excess) {
        drop++;
        excess -= bytes;
        this.keptBytes -= bytes;
        this.dropped += bytes;
      } else {
        const text = Buffer.from(oldest.text)
          .subarray(excess)
          .toString('utf8')
          .replace(/^\uFFFD+/, '');
        const textBytes = Buffer.byteLength(text);
        this.kept[drop] = { ...oldest, text };
        this.keptBytes -= bytes - textBytes;
        this.dropped += bytes - textBytes;
        excess = 0;
      }
    }
    this.kept.splice(0, drop);
  }
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `bytes`, never splitting a character. */
export function prefixWithin(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) {
    return text;
  }
  let end = Math.min(text.length, bytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > bytes) {
    end--;
  }
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1]!)) {
    end--;
  }
  return text.slice(0, end);
}
