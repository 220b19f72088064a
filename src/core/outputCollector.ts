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
  private tail: string[] = [];
  private tailBytes = 0;
  private droppedBytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly onChunk?: (chunk: OutputChunk) => void,
  ) {}

  push(stream: OutputStream, bytes: Buffer): void {
    this.append(stream, this.decoders[stream].write(bytes));
  }

  /** Appends output that arrives already decoded (a kernel's stream message). */
  pushText(stream: OutputStream, text: string): void {
    this.append(stream, text);
  }

  /** Whether nothing has been collected yet. */
  get isEmpty(): boolean {
    return this.headBytes === 0 && this.tail.length === 0 && this.droppedBytes === 0;
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
    if (this.droppedBytes === 0) {
      return this.head + this.tail.join('');
    }
    return `${this.head}\n... [${this.droppedBytes} bytes of output truncated] ...\n${this.tail.join('')}`;
  }

  private append(stream: OutputStream, text: string): void {
    if (text) {
      this.onChunk?.({ stream, text });
      this.store(text);
    }
  }

  private store(text: string): void {
    const headLimit = Math.floor(this.maxBytes / 2);
    if (this.tail.length === 0 && this.headBytes < headLimit) {
      const fits = prefixWithin(text, headLimit - this.headBytes);
      this.head += fits;
      this.headBytes += Buffer.byteLength(fits);
      text = text.slice(fits.length);
      if (!text) {
        return;
      }
    }
    this.tail.push(text);
    this.tailBytes += Buffer.byteLength(text);
    const tailLimit = this.maxBytes - headLimit;
    while (this.tailBytes > tailLimit && this.tail.length > 0) {
      const first = this.tail[0]!;
      const excess = this.tailBytes - tailLimit;
      const firstBytes = Buffer.byteLength(first);
      if (firstBytes <= excess) {
        this.tail.shift();
        this.tailBytes -= firstBytes;
        this.droppedBytes += firstBytes;
      } else {
        const kept = Buffer.from(first)
          .subarray(excess)
          .toString('utf8')
          .replace(/^\uFFFD+/, '');
        const keptBytes = Buffer.byteLength(kept);
        this.tail[0] = kept;
        this.tailBytes -= firstBytes - keptBytes;
        this.droppedBytes += firstBytes - keptBytes;
      }
    }
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
