import { posix, win32 } from 'node:path';

/**
 * Maps paths between the pod and the local machine, so output that names files in the pod
 * (tracebacks, error lines) points at the user's own files. Local paths may be POSIX or Windows
 * ones; remote paths are POSIX.
 */
export interface PathMapping {
  /** Absolute local path: a folder, or a file when the mapping is for one code file. */
  local: string;
  /** Absolute POSIX path in the pod. */
  remote: string;
  /** Added to the line numbers of this (file) mapping: a selection starting at editor line 7 → 6. */
  lineOffset?: number;
}

/** Characters that may precede a path: a path starts at a word boundary, never mid-path. */
const pathStart = /[^\w.~/\\-]/;
/** A colour code (SGR) right before a position: IPython colours the paths of its tracebacks. */
// eslint-disable-next-line no-control-regex
const colourBefore = /\x1b\[[0-9;]*m$/;
/** Characters that end an unquoted path (so `path:N:` keeps its suffix). */
const pathDelimiter = /[\s"':,;)\]>]/;
/**
 * The line number after a path: `", line N`, `:N`, `: line N` (bash) or `: N:` (dash; the `:` after
 * N is required, so `path: 12 bytes` keeps its number).
 */
const lineSuffix = /(?:["'], line |:|: line |: (?=\d+:))(\d+)/y;

/**
 * Rewrites the remote paths in `text` that lie in a mapping (the longest mapping wins; a path
 * merely starting with the same characters is left alone) to their local paths, and shifts the
 * line numbers that follow a file mapping's path by its `lineOffset`. Handles Python's
 * `File "…", line N`, IPython's `File …:N, in f()`, `path:N:` and bash's `path: line N:`.
 * Linear in the text's length, so whole outputs can be mapped.
 */
export function remoteToLocal(text: string, mappings: readonly PathMapping[] = []): string {
  const ordered = mappings
    .map((mapping) => ({ ...mapping, remote: trimSeparator(mapping.remote) }))
    .filter((mapping) => mapping.remote.startsWith('/') && text.includes(mapping.remote))
    .sort((a, b) => b.remote.length - a.remote.length);
  if (ordered.length === 0) {
    return text;
  }
  let result = '';
  let copied = 0;
  for (let index = text.indexOf('/'); index !== -1; index = text.indexOf('/', index + 1)) {
    if (index > 0 && !pathStart.test(text[index - 1]!) && colourStart(text, index) === index) {
      continue;
    }
    const mapping = ordered.find((candidate) => {
      const next = text[index + candidate.remote.length];
      return (
        text.startsWith(candidate.remote, index) &&
        (next === undefined || next === '/' || pathDelimiter.test(next))
      );
    });
    if (!mapping) {
      continue;
    }
    const end = pathEnd(text, index, index + mapping.remote.length);
    const rest = text.slice(index + mapping.remote.length, end);
    result += text.slice(copied, index) + joinLocal(mapping.local, rest);
    copied = end;
    lineSuffix.lastIndex = end;
    const line = rest === '' && mapping.lineOffset ? lineSuffix.exec(text) : null;
    if (line) {
      const number = line[1]!;
      result += `${line[0].slice(0, -number.length)}${Number(number) + mapping.lineOffset!}`;
      copied = end + line[0].length;
    }
    index = copied - 1;
  }
  return result + text.slice(copied);
}

/**
 * The remote path of a local one that lies in a mapping (the longest wins), or undefined. Windows
 * paths compare case-insensitively and with either separator.
 */
export function localToRemote(
  localPath: string,
  mappings: readonly PathMapping[],
): string | undefined {
  const found = mappingHolding(localPath, mappings);
  if (!found) {
    return undefined;
  }
  const remote = trimSeparator(found.mapping.remote);
  return found.rest ? `${remote === '/' ? '' : remote}/${found.rest}` : remote;
}

/** The longest mapping whose local path holds `localPath`, and the POSIX path under it. */
export function mappingHolding<M extends PathMapping>(
  localPath: string,
  mappings: readonly M[],
): { mapping: M; rest: string } | undefined {
  let best: { mapping: M; rest: string } | undefined;
  for (const mapping of mappings) {
    const rest = relativeLocal(mapping.local, localPath);
    if (rest !== undefined && (!best || mapping.local.length > best.mapping.local.length)) {
      best = { mapping, rest };
    }
  }
  return best;
}

/**
 * What a result carries: the synced folders and, for code that came from a local file, its code
 * file in the pod mapped to that file with the line numbers shifted to the editor's.
 */
export function resultMappings(
  folders: readonly PathMapping[],
  codeFile: string | undefined,
  source: { localFile: string; startLine: number } | undefined,
): PathMapping[] {
  const mappings: PathMapping[] = folders.map(({ local, remote }) => ({ local, remote }));
  if (codeFile && source) {
    mappings.push({ local: source.localFile, remote: codeFile, lineOffset: source.startLine - 1 });
  }
  return mappings;
}

/**
 * Where a path whose mapped prefix ends at `from` ends, looking no further than its line: at its
 * closing quote when quoted; after IPython's unquoted `File ` (which may hold spaces), before the
 * `:N` of its line; else at a delimiter.
 */
function pathEnd(text: string, start: number, from: number): number {
  // No path is longer than PATH_MAX (4096), so a long line costs no more than that per path.
  const newline = text.slice(from, from + 4096).indexOf('\n');
  const lineEnd = newline === -1 ? Math.min(text.length, from + 4096) : from + newline;
  const before = text[start - 1];
  if (before === '"' || before === "'") {
    const close = text.indexOf(before, from);
    return close === -1 || close > lineEnd ? lineEnd : close;
  }
  if (text.startsWith('File ', colourStart(text, start) - 5)) {
    // eslint-disable-next-line no-control-regex
    const withLine = /^(.*?):\d+(?:\x1b\[[0-9;]*m)?(?:,|$)/.exec(text.slice(from, lineEnd));
    if (withLine) {
      return from + withLine[1]!.length;
    }
  }
  let end = from;
  while (end < lineEnd && !pathDelimiter.test(text[end]!)) {
    end++;
  }
  return end;
}

/** Where the colour code right before `index` starts (`index` itself when there is none). */
function colourStart(text: string, index: number): number {
  const code = colourBefore.exec(text.slice(Math.max(0, index - 16), index));
  return code ? index - code[0].length : index;
}

function isWindowsPath(path: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(path) || path.startsWith('\\\\');
}

/** `local` joined with a remote rest (`/app/util.py`), in the local path's own separator. */
function joinLocal(local: string, rest: string): string {
  if (!rest) {
    return local;
  }
  const separator = isWindowsPath(local) && !local.includes('/') ? '\\' : '/';
  return local.replace(/[\\/]+$/, '') + rest.replace(/\//g, separator);
}

/**
 * The POSIX path of `path` under `folder` ('' for the folder itself), or undefined when outside.
 * Both are normalised first (as Windows paths when the folder is one), so `proj/../x` is outside.
 */
function relativeLocal(folder: string, path: string): string | undefined {
  const windows = isWindowsPath(folder);
  const clean = (value: string) =>
    windows
      ? trimSeparator(win32.normalize(value).replace(/\\/g, '/'))
      : trimSeparator(posix.normalize(value));
  const base = windows ? clean(folder).toLowerCase() : clean(folder);
  const target = clean(path);
  const comparable = windows ? target.toLowerCase() : target;
  if (comparable === base) {
    return '';
  }
  const prefix = base.endsWith('/') ? base : `${base}/`;
  return comparable.startsWith(prefix) ? target.slice(prefix.length) : undefined;
}

/** A path without its trailing separators (a root keeps its one). */
function trimSeparator(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  return trimmed === '' || /^[A-Za-z]:$/.test(trimmed)
    ? path.slice(0, trimmed.length + 1)
    : trimmed;
}
