/**
 * The byte stream between Pod Runner and the programs in the pod. Records are text lines whose
 * fields hold no spaces; a file record's content follows its line and is closed by ".\n":
 *
 *   F <mode octal> <size> <path>\n<size bytes>.\n   a file, written to a temporary name and renamed
 *   L <target> <path>\n                             a symlink
 *   D <path>\n                                      remove a file or symlink (and emptied folders)
 *   Q\n                                             the end; without it the stream was cut
 *
 * Paths are UTF-8 bytes with every byte outside [A-Za-z0-9._/+,=@~-] written as `\0ooo` (octal),
 * which `printf %b` decodes in any POSIX sh, so names with spaces or newlines travel safely.
 */

const safeByte = (byte: number) =>
  (byte >= 0x30 && byte <= 0x39) ||
  (byte >= 0x41 && byte <= 0x5a) ||
  (byte >= 0x61 && byte <= 0x7a) ||
  '._/+,=@~-'.includes(String.fromCharCode(byte));

export function encodePath(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    out += safeByte(byte) ? String.fromCharCode(byte) : `\\0${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

export function decodePath(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length;) {
    const escape = /^\\0([0-7]{3})/.exec(encoded.slice(i, i + 5));
    if (escape) {
      bytes.push(Number.parseInt(escape[1]!, 8));
      i += 5;
    } else {
      bytes.push(encoded.charCodeAt(i));
      i++;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export const fileHeader = (mode: number, size: number, path: string) =>
  Buffer.from(`F ${(mode & 0o7777).toString(8)} ${size} ${encodePath(path)}\n`);
export const fileTrailer = Buffer.from('.\n');
export const symlinkRecord = (target: string, path: string) =>
  Buffer.from(`L ${encodePath(target)} ${encodePath(path)}\n`);
export const deleteRecord = (path: string) => Buffer.from(`D ${encodePath(path)}\n`);
export const endRecord = Buffer.from('Q\n');

/** Splits a stream into lines as chunks arrive; a partial last line waits for the next chunk. */
export class LineReader {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const lines = (this.pending + chunk.toString('latin1')).split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) {
      this.onLine(line);
    }
  }
}

/** One record of a stream the pod sends (a listing or a download). */
export type SentRecord =
  | { kind: 'file'; path: string; mode: number; content: Buffer }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'folder'; path: string };

/**
 * Parses a download stream: the records above plus `M <path>` (a folder) and `X <message>` (the
 * sender's error). Throws when the stream is cut or malformed.
 */
export function parseSentStream(data: Buffer): SentRecord[] {
  const records: SentRecord[] = [];
  let offset = 0;
  const nextLine = () => {
    const end = data.indexOf(0x0a, offset);
    if (end === -1) {
      throw new Error('the stream from the pod ended early');
    }
    const line = data.subarray(offset, end).toString('latin1');
    offset = end + 1;
    return line;
  };
  for (;;) {
    const line = nextLine();
    const [op, first, second, third] = line.split(' ');
    if (op === 'Q') {
      return records;
    }
    if (op === 'X' && first !== undefined) {
      throw new Error(`${decodePath(first)}: ${line.split(' ').slice(2).join(' ')}`);
    }
    if (op === 'M' && first !== undefined) {
      records.push({ kind: 'folder', path: decodePath(first) });
    } else if (op === 'L' && first !== undefined && second !== undefined) {
      records.push({ kind: 'symlink', target: decodePath(first), path: decodePath(second) });
    } else if (op === 'F' && first && second && third) {
      const size = Number(second);
      const content = data.subarray(offset, offset + size);
      offset += size;
      if (content.length !== size || nextLine() !== '.') {
        throw new Error('the stream from the pod ended early');
      }
      records.push({
        kind: 'file',
        path: decodePath(third),
        mode: Number.parseInt(first, 8),
        content,
      });
    } else {
      throw new Error(`unexpected line from the pod: ${JSON.stringify(line.slice(0, 200))}`);
    }
  }
}

/**
 * A receiver's output that starts with its NUL-terminated listing (ending in `end`): the listing
 * goes to `onListing`, everything after it to `lines`. Output that ends before the listing did
 * (the receiver failed first) goes to `lines` on end().
 */
export class ListingThenLines {
  private head: Buffer | undefined = Buffer.alloc(0);

  constructor(
    private readonly onListing: (listing: Buffer) => void,
    private readonly lines: LineReader,
  ) {}

  push(chunk: Buffer): void {
    if (!this.head) {
      this.lines.push(chunk);
      return;
    }
    const head = Buffer.concat([this.head, chunk]);
    this.head = head;
    let end = -1;
    if (head.subarray(0, listingEnd.length - 1).equals(listingEnd.subarray(1))) {
      end = listingEnd.length - 1;
    } else if (head.includes(listingEnd)) {
      end = head.indexOf(listingEnd) + listingEnd.length;
    }
    if (end !== -1) {
      this.head = undefined;
      this.onListing(head.subarray(0, end));
      if (end < head.length) {
        this.lines.push(head.subarray(end));
      }
    }
  }

  end(): void {
    if (this.head?.length) {
      this.lines.push(Buffer.concat([this.head, Buffer.from('\n')]));
    }
    this.head = undefined;
  }
}

const listingEnd = Buffer.from('\0end\0');
