import { isAbsolute } from 'node:path';

/** A place in a local file that output names. */
export interface FileLocation {
  path: string;
  /** 1-based. */
  line: number;
  /** Where the path and line are in the text (offsets), for the link's range. */
  start: number;
  end: number;
}

/**
 * `File "<path>", line N` (Python tracebacks) and `<path>:N` (IPython 8's `File <path>:N`,
 * warnings, shell errors). The second form takes absolute paths without spaces, quotes or colons
 * (a Windows drive's excepted), at the start of a line or after a space, quote, parenthesis or
 * terminal colour code (not inside a URL).
 */
const locationPatterns = [
  /File "(?<path>[^"\n]+)", line (?<line>\d+)/g,
  // eslint-disable-next-line no-control-regex
  /(?<=^|[\s"'(=]|\x1b\[[\d;]*m)(?<path>(?:\/|[A-Za-z]:[\\/])[^\s"':,()]+):(?<line>\d+)/gm,
];

/** The absolute paths with line numbers in `text`, in order, each found once. */
export function fileLocations(text: string): FileLocation[] {
  const found = new Map<number, FileLocation>();
  for (const pattern of locationPatterns) {
    for (const match of text.matchAll(pattern)) {
      const path = match.groups!.path!;
      const start = match.index;
      const end = start + match[0].length;
      const overlaps = [...found.values()].some((seen) => start < seen.end && seen.start < end);
      if (isAbsolute(path) && !overlaps) {
        found.set(start, { path, line: Number(match.groups!.line), start, end });
      }
    }
  }
  return [...found.values()].sort((a, b) => a.start - b.start);
}
