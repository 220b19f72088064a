import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

/**
 * A file's content as readFileSync gives it (its size when opened); when it fits, read into the
 * memory lent for it and returned as a view of it, so a sync of thousands of small files does not
 * allocate a buffer for each.
 */
export function readFileInto(path: string, into: Buffer | undefined): Buffer {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    // A size of 0 may be a file whose size the system does not tell: it is read to its end.
    if (!into || size === 0 || size > into.length) {
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
