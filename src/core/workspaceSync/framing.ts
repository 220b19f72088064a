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
 *
 * Back from the pod: a receiver run with `list` first prints the root's paths, each
 * NUL-terminated as `f <path>` or `l <path>`, then `end`; a download stream uses the records above
 * plus `M <path>` (a folder) and `X <path> <reason>` (the sender failed).
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

/** What a download stream holds, told as it arrives: a file's content comes in pieces. */
export interface SentStreamSink {
  folder(path: string): void;
  symlink(path: string, target: string): void;
  fileStart(path: string, mode: number, size: number): void;
  fileData(piece: Buffer): void;
  fileEnd(): void;
}

/**
 * Parses a download stream as it arrives: the records above plus `M <path>` (a folder) and
 * `X <path> <reason>` (the sender's error). Holds at most one line, never a file's content.
 * Throws when the stream is malformed; end() throws when it was cut.
 */
export class SentStreamParser {
  private line = Buffer.alloc(0);
  private contentLeft = 0;
  private trailer: Buffer | undefined;
  private ended = false;

  constructor(private readonly sink: SentStreamSink) {}

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0 && !this.ended) {
      if (this.contentLeft > 0) {
        const piece = data.subarray(0, this.contentLeft);
        this.sink.fileData(piece);
        this.contentLeft -= piece.length;
        data = data.subarray(piece.length);
      } else if (this.trailer) {
        const need = fileTrailer.length - this.trailer.length;
        this.trailer = Buffer.concat([this.trailer, data.subarray(0, need)]);
        data = data.subarray(need);
        if (this.trailer.length === fileTrailer.length) {
          if (!this.trailer.equals(fileTrailer)) {
            throw new Error('the stream from the pod ended early');
          }
          this.trailer = undefined;
          this.sink.fileEnd();
        }
      } else {
        const end = data.indexOf(0x0a);
        if (end === -1) {
          this.line = Buffer.concat([this.line, data]);
          return;
        }
        const line = Buffer.concat([this.line, data.subarray(0, end)]).toString('latin1');
        this.line = Buffer.alloc(0);
        data = data.subarray(end + 1);
        this.record(line);
      }
    }
  }

  end(): void {
    if (!this.ended) {
      throw new Error('the stream from the pod ended early');
    }
  }

  private record(line: string): void {
    const [op, first, second, third] = line.split(' ');
    if (op === 'Q') {
      this.ended = true;
    } else if (op === 'X' && first !== undefined) {
      throw new Error(`${decodePath(first)}: ${line.split(' ').slice(2).join(' ')}`);
    } else if (op === 'M' && first !== undefined) {
      this.sink.folder(decodePath(first));
    } else if (op === 'L' && first !== undefined && second !== undefined) {
      this.sink.symlink(decodePath(second), decodePath(first));
    } else if (op === 'F' && first && second && third) {
      this.contentLeft = Number(second);
      this.trailer = Buffer.alloc(0);
      this.sink.fileStart(decodePath(third), Number.parseInt(first, 8), this.contentLeft);
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
