import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

/**
 * A file's content as readFileSync gives it (its size when opened); when it fits, read into the
 * memory lent for it and returned as a view of it, so a sync of thousands of small files does not
 * allocate a buffer for each.
 *
 * `expectedSize` is the size the walk saw: a first read that returns exactly that many bytes is
 * taken as the whole file, which saves asking the system for its size (one call of four per file).
 * Any other count is read on to the end.
 */
export function readFileInto(
  path: string,
  into: Buffer | undefined,
  expectedSize?: number,
): Buffer {
  const fd = openSync(path, 'r');
  try {
    if (!into) {
      return readFileSync(fd);
    }
    if (expectedSize !== undefined && expectedSize > 0 && expectedSize < into.length) {
      const got = readSync(fd, into, 0, into.length, null);
      return got === expectedSize ? into.subarray(0, got) : readOn(fd, into, got);
    }
    const { size } = fstatSync(fd);
    // A size of 0 may be a file whose size the system does not tell: it is read to its end.
    if (size === 0 || size > into.length) {
      return readFileSync(fd);
    }
    let read = 0;
    while (read < size) {
      const got = readSync(fd, into, read, size - read, null);
      if (got === 0) {
        break;
      }
      read += got;
    }
    return into.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** The rest of a file whose first `read` bytes are in `into`, read to its end. */
function readOn(fd: number, into: Buffer, read: number): Buffer {
  for (;;) {
    if (read === into.length) {
      // Larger than the lent memory: the rest in memory of its own.
      return Buffer.concat([into, readFileSync(fd)]);
    }
    const got = readSync(fd, into, read, into.length - read, null);
    if (got === 0) {
      return into.subarray(0, read);
    }
    read += got;
  }
}
