import { prefixWithin, type OutputChunk } from '../core/outputCollector.ts';

/**
 * Caps streamed output as the executor caps its result: the first half of `maxBytes` passes at
 * once; after it only the latest half is held, and `finish()` hands it over behind a marker
 * saying how much was left out. What a window shows of one run thus stays within the limit.
 */
export class OutputCap {
  private passedBytes = 0;
  private held: OutputChunk[] = [];
  private heldBytes = 0;
  private droppedBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The part of `chunk` to show now (none once the head is full); the rest is held. */
  admit(chunk: OutputChunk): OutputChunk | undefined {
    const headRoom = Math.floor(this.maxBytes / 2) - this.passedBytes;
    const now = headRoom > 0 ? prefixWithin(chunk.text, headRoom) : '';
    this.passedBytes += Buffer.byteLength(now);
    if (now.length < chunk.text.length) {
      this.hold({ stream: chunk.stream, text: chunk.text.slice(now.length) });
    }
    return now ? { stream: chunk.stream, text: now } : undefined;
  }

  /** The held tail, behind a marker when some output was left out; the cap starts over. */
  finish(): OutputChunk[] {
    const held = this.held;
    const first = held[0];
    const marker: OutputChunk[] =
      first && this.droppedBytes > 0
        ? [
            {
              stream: first.stream,
              text: `\n... [${this.droppedBytes} bytes of output truncated] ...\n`,
            },
          ]
        : [];
    this.passedBytes = 0;
    this.held = [];
    this.heldBytes = 0;
    this.droppedBytes = 0;
    return [...marker, ...held];
  }

  private hold(chunk: OutputChunk): void {
    this.held.push(chunk);
    this.heldBytes += Buffer.byteLength(chunk.text);
    const limit = this.maxBytes - Math.floor(this.maxBytes / 2);
    let excess = this.heldBytes - limit;
    let drop = 0;
    while (excess > 0 && drop < this.held.length) {
      const oldest = this.held[drop]!;
      const bytes = Buffer.byteLength(oldest.text);
      if (bytes <= excess) {
        drop++;
        excess -= bytes;
        this.heldBytes -= bytes;
        this.droppedBytes += bytes;
      } else {
        const kept = Buffer.from(oldest.text)
          .subarray(excess)
          .toString('utf8')
          .replace(/^\uFFFD+/, '');
        const keptBytes = Buffer.byteLength(kept);
        this.held[drop] = { stream: oldest.stream, text: kept };
        this.heldBytes -= bytes - keptBytes;
        this.droppedBytes += bytes - keptBytes;
        excess = 0;
      }
    }
    this.held.splice(0, drop);
  }
}
