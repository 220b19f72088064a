import { setImmediate as nextTurn } from 'node:timers/promises';

/** Local reads kept in flight ahead of the one awaited: at most this many, and this many bytes. */
const readAheadFiles = 16;
const readAheadBytes = 16 * 1024 * 1024;
/** With `lend`, files up to this size are read into memory that is used again. */
const lentBytes = 128 * 1024;

/**
 * Yields each item with its content, in order, with later reads already started; every read
 * starts in item order, so an injected file system sees the same order as sequential reads.
 *
 * With `lend`, a small file is read into memory lent to its read, which is lent again once the
 * consumer asks for the next item: a content is then valid only until that moment, and a sync of
 * many files reuses a few buffers instead of allocating one per file.
 */
export async function* readAhead<Item>(
  items: readonly Item[],
  read: (item: Item, into?: Buffer) => Promise<Buffer | undefined>,
  sizeOf: (item: Item) => number,
  options: { lend?: boolean } = {},
): AsyncGenerator<[Item, Buffer | undefined]> {
  const inFlight: { content: Promise<Buffer | undefined>; size: number; lent?: Buffer }[] = [];
  const spare: Buffer[] = [];
  let inFlightBytes = 0;
  let started = 0;
  for (const [index, item] of items.entries()) {
    if (index % 256 === 255) {
      await nextTurn();
    }
    while (
      started < items.length &&
      (inFlight.length === 0 ||
        (inFlight.length < readAheadFiles && inFlightBytes < readAheadBytes))
    ) {
      const next = items[started++]!;
      const size = sizeOf(next);
      const lent =
        options.lend && size > 0 && size <= lentBytes
          ? (spare.pop() ?? Buffer.allocUnsafe(lentBytes))
          : undefined;
      inFlight.push({ content: read(next, lent), size, ...(lent ? { lent } : {}) });
      inFlightBytes += size;
    }
    const first = inFlight.shift()!;
    inFlightBytes -= first.size;
    yield [item, await first.content];
    if (first.lent) {
      spare.push(first.lent);
    }
  }
}
