import { setImmediate as nextTurn } from 'node:timers/promises';

/** Local reads kept in flight ahead of the one awaited: at most this many, and this many bytes. */
const readAheadFiles = 16;
const readAheadBytes = 16 * 1024 * 1024;

/**
 * Yields each item with its content, in order, with later reads already started; every read
 * starts in item order, so an injected file system sees the same order as sequential reads.
 */
export async function* readAhead<Item>(
  items: readonly Item[],
  read: (item: Item) => Promise<Buffer | undefined>,
  sizeOf: (item: Item) => number,
): AsyncGenerator<[Item, Buffer | undefined]> {
  const inFlight: { content: Promise<Buffer | undefined>; size: number }[] = [];
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
      inFlight.push({ content: read(next), size: sizeOf(next) });
      inFlightBytes += sizeOf(next);
    }
    const first = inFlight.shift()!;
    inFlightBytes -= first.size;
    yield [item, await first.content];
  }
}
