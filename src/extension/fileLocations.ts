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
 * One pass finds every form, each match ending where the next search starts, so no place is
 * found twice and the cost is linear in the text:
 * - `File "<path>", line N` (Python tracebacks);
 * - `<path>:N` (IPython 8's `File <path>:N`, warnings), `<path>: line N:` (bash) and
 *   `<path>: N:` (dash) errors. These take absolute paths without spaces, quotes or colons (a
 *   Windows drive's excepted), at the start of a line or after a space, quote, parenthesis or
 *   terminal colour code (not inside a URL).
 * Paths are bounded in length, so a long run of path characters is not searched again from each
 * of its characters.
 */
const locationPattern = new RegExp(
  [
    String.raw`File "(?<quoted>[^"\n]{1,1024})", line (?<quotedLine>\d+)`,
    String.raw`(?<=^|[\s"'(=]|\x1b\[[\d;]*m)(?<path>(?:\/|[A-Za-z]:[\\/])[^\s"':,()]{0,1024})` +
      String.raw`(?::(?<line>\d+)|: line (?<bashLine>\d+)(?=:)|: (?<dashLine>\d+)(?=:))`,
  ].join('|'),
  'gm',
);

/** The absolute paths with line numbers in `text`, in order. */
export function fileLocations(text: string): FileLocation[] {
  const found: FileLocation[] = [];
  for (const match of text.matchAll(locationPattern)) {
    const groups = match.groups!;
    const path = groups.quoted ?? groups.path!;
    const line = groups.quotedLine ?? groups.line ?? groups.bashLine ?? groups.dashLine;
    if (isAbsolute(path)) {
      found.push({
        path,
        line: Number(line),
        start: match.index,
        end: match.index + match[0].length,
      });
    }
  }
  return found;
}

/** How much of a document the links are looked for in: a huge output must not block the window. */
export interface LinkLimits {
  /** Only the last this many characters (from a line start) are searched. */
  maxScannedChars: number;
  /** At most this many links, the last ones. */
  maxLinks: number;
}

export const defaultLinkLimits: LinkLimits = { maxScannedChars: 1024 * 1024, maxLinks: 5000 };

/**
 * The last locations in the tail of `text` (offsets into all of `text`) whose file `exists`: a
 * link must open a file this machine has, not a path only the pod knows. Each path is checked
 * once.
 */
export function linkableLocations(
  text: string,
  exists: (path: string) => boolean,
  limits: LinkLimits = defaultLinkLimits,
): FileLocation[] {
  const cut = text.length - limits.maxScannedChars;
  const from = cut <= 0 ? 0 : text.indexOf('\n', cut - 1) + 1 || text.length;
  const existing = new Map<string, boolean>();
  const checked = (path: string) => {
    let known = existing.get(path);
    if (known === undefined) {
      known = exists(path);
      existing.set(path, known);
    }
    return known;
  };
  return fileLocations(text.slice(from))
    .slice(-limits.maxLinks)
    .filter((location) => checked(location.path))
    .map((location) => ({ ...location, start: location.start + from, end: location.end + from }));
}
