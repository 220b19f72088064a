import { BoundedTail, prefixWithin, type OutputChunk } from '../core/outputCollector.ts';

/**
 * Caps streamed output as the executor caps its result: the first half of `maxBytes` passes at
 * once; after it only the latest half is held, and `finish()` hands it over behind a marker
 * saying how much was left out. What a window shows of one run thus stays within the limit.
 */
export class OutputCap {
  private passedBytes = 0;
  private held: BoundedTail<OutputChunk>;

  constructor(private readonly maxBytes: number) {
    this.held = this.emptyTail();
  }

  /** The part of `chunk` to show now (none once the head is full); the rest is held. */
  admit(chunk: OutputChunk): OutputChunk | undefined {
    const headRoom = Math.floor(this.maxBytes / 2) - this.passedBytes;
    const now = headRoom > 0 ? prefixWithin(chunk.text, headRoom) : '';
    this.passedBytes += Buffer.byteLength(now);
    if (now.length < chunk.text.length) {
      this.held.push({ stream: chunk.stream, text: chunk.text.slice(now.length) });
    }
    return now ? { stream: chunk.stream, text: now } : undefined;
  }

  /** The held tail, behind a marker when some output was left out; the cap starts over. */
  finish(): OutputChunk[] {
    const held = this.held.pieces;
    const droppedBytes = this.held.droppedBytes;
    const first = held[0];
    const marker: OutputChunk[] =
      first && droppedBytes > 0
        ? [
            {
              stream: first.stream,
              text: `\n... [${droppedBytes} bytes of output truncated] ...\n`,
            },
          ]
        : [];
    this.passedBytes = 0;
    this.held = this.emptyTail();
    return [...marker, ...held];
  }

  private emptyTail(): BoundedTail<OutputChunk> {
    return new BoundedTail(this.maxBytes - Math.floor(this.maxBytes / 2));
  }
}
