/** Where the code of an executed cell came from. */
export interface CellOrigin {
  /** Local file path. */
  file: string;
  /** 0-based line of the file where the cell's code starts (`PythonCell.bodyLine`). */
  bodyLine: number;
}

/** A cell frame's header in one IPython version's form, and how to name a file there instead. */
interface HeaderForm {
  /** Groups: `head` (kept), `count` (execution count), optional `line` (line in the cell). */
  pattern: RegExp;
  rewrite(groups: Record<string, string>, file: string, fileLine: number | undefined): string;
}

/** A regular expression in which `COLOURS` stands for any number of ANSI colour codes, `COLOUR` for one. */
const withColours = (source: string) =>
  new RegExp(
    '^' +
      source
        .replaceAll('COLOURS', String.raw`(?:\x1b\[[\d;]*m)*`)
        .replaceAll('COLOUR', String.raw`\x1b\[[\d;]*m`),
  );

/** IPython's own file frame header: `File <colour>path:line` (no line when it is unknown). */
function fileForm(head: string, colour: string, file: string, fileLine: number | undefined) {
  return `${head}File ${colour}${file}${fileLine === undefined ? '' : `:${fileLine}`}`;
}

const headerForms: readonly HeaderForm[] = [
  {
    // IPython 9 colours each word: `Cell In[3], line 2` → `File path:12` in the same colours.
    pattern: withColours(
      String.raw`(?<head>COLOURS\s*COLOURS)(?<word>COLOUR)Cell(?<wordEnd>COLOUR)COLOURS COLOURS(?<colour>COLOUR)In\[(?<count>\d+)\]COLOURS, line (?<line>\d+)`,
    ),
    rewrite: (groups, file, fileLine) =>
      `${groups.head}${groups.word}File ${groups.wordEnd}${groups.colour}${file}:${fileLine}`,
  },
  {
    // IPython 8.5+: `Cell In [3], line 2` (`In[3]` from 8.6); SyntaxErrors are indented.
    pattern: withColours(
      String.raw`(?<head>COLOURS\s*)Cell (?<colour>COLOURS)In ?\[(?<count>\d+)\], line (?<line>\d+)`,
    ),
    rewrite: (groups, file, fileLine) => fileForm(groups.head!, groups.colour!, file, fileLine),
  },
  {
    // IPython 8.0–8.4: `Input In [3], in <cell line: 0>()`, without the line.
    pattern: withColours(
      String.raw`(?<head>COLOURS\s*)Input (?<colour>COLOURS)In \[(?<count>\d+)\]`,
    ),
    rewrite: (groups, file, fileLine) => fileForm(groups.head!, groups.colour!, file, fileLine),
  },
  {
    // IPython 7: a SyntaxError's `File "<ipython-input-4-…>", line 3`, Python's own form.
    pattern: withColours(
      String.raw`(?<head>COLOURS\s*File COLOURS)"<ipython-input-(?<count>\d+)-\w+>"(?<middle>COLOURS, line COLOURS)(?<line>\d+)`,
    ),
    rewrite: (groups, file, fileLine) => `${groups.head}"${file}"${groups.middle}${fileLine}`,
  },
  {
    // IPython 7: `<ipython-input-3-…> in f()`; its file frames name just the path, so does this
    // (a `File` header would make VS Code link the next file frame's lines to this file).
    pattern: withColours(String.raw`(?<head>COLOURS)<ipython-input-(?<count>\d+)-\w+>`),
    rewrite: (groups, file) => `${groups.head}${file}`,
  },
];

/**
 * A context line: colour, the number right-aligned or after the `---->` arrow (IPython 9 colours
 * the two apart), colour, code. IPython 9 glues a `(...)` gap to the line after it.
 */
const numberedLine = withColours(
  String.raw`(?<lead>(?:COLOURS\s*\(\.\.\.\))?COLOURS)(?<arrow>[ \->]*?)(?<between>COLOURS)(?<number>\d+)(?<rest>COLOURS .*)$`,
);
/** The `(...)` IPython puts where it skips context lines. */
const skippedLines = withColours(String.raw`COLOURS\s*\(\.\.\.\)`);
/** IPython right-aligns context line numbers to this width, the arrow shrinking as they grow. */
const numberWidth = 7;

/**
 * Rewrites the frames of cells whose execution count is in `origins` so they read as frames of
 * the cells' file: the header names `file:line` as IPython does for file frames (which VS Code's
 * error renderer links, with every numbered line after it), and each context line's number L
 * becomes bodyLine + L. Frames of other cells, of files, and all other text stay byte-identical.
 */
export function mapCellTraceback(
  traceback: readonly string[],
  origins: ReadonlyMap<number, CellOrigin>,
): string[] {
  return traceback.map((entry) => mapEntry(entry, origins));
}

function mapEntry(entry: string, origins: ReadonlyMap<number, CellOrigin>): string {
  const lines = entry.split('\n');
  let changed = false;
  for (let index = 0; index < lines.length; index++) {
    const frame = cellFrameHeader(lines[index]!, origins);
    if (!frame) {
      continue;
    }
    let end = index + 1;
    while (
      end < lines.length &&
      (numberedLine.test(lines[end]!) || skippedLines.test(lines[end]!))
    ) {
      end++;
    }
    const body = renumber(lines.slice(index + 1, end), frame.origin.bodyLine);
    const fileLine =
      frame.cellLine === undefined ? body.currentLine : frame.origin.bodyLine + frame.cellLine;
    lines.splice(index, end - index, frame.rewrite(fileLine) + frame.rest, ...body.lines);
    index = end - 1;
    changed = true;
  }
  return changed ? lines.join('\n') : entry;
}

interface CellFrameHeader {
  origin: CellOrigin;
  /** The line in the cell the header names, when it names one. */
  cellLine?: number;
  /** The header up to and including its location, in file form. */
  rewrite(fileLine: number | undefined): string;
  /** The rest of the header line, kept as it is. */
  rest: string;
}

function cellFrameHeader(
  line: string,
  origins: ReadonlyMap<number, CellOrigin>,
): CellFrameHeader | undefined {
  for (const form of headerForms) {
    const match = form.pattern.exec(line);
    const origin = match && origins.get(Number(match.groups!.count));
    if (match && origin) {
      const groups = match.groups!;
      return {
        origin,
        ...(groups.line === undefined ? {} : { cellLine: Number(groups.line) }),
        rewrite: (fileLine) => form.rewrite(groups, origin.file, fileLine),
        rest: line.slice(match[0].length),
      };
    }
  }
  return undefined;
}

/** Shifts the numbers of a frame's context lines, widening them all when one outgrows the arrow. */
function renumber(
  lines: readonly string[],
  offset: number,
): { lines: string[]; currentLine?: number } {
  const parsed = lines.map((line) => numberedLine.exec(line)?.groups);
  const widest = Math.max(
    0,
    ...parsed.map((groups) => (groups ? String(Number(groups.number) + offset).length : 0)),
  );
  const width = Math.max(numberWidth, widest + 2);
  let currentLine: number | undefined;
  const renumbered = lines.map((line, index) => {
    const groups = parsed[index];
    if (!groups) {
      return line;
    }
    const number = String(Number(groups.number) + offset);
    const isCurrent = groups.arrow!.includes('>');
    if (isCurrent) {
      currentLine = Number(number);
    }
    const padding = isCurrent
      ? '-'.repeat(width - number.length - 2) + '> '
      : ' '.repeat(width - number.length);
    return groups.lead! + padding + groups.between! + number + groups.rest!;
  });
  return { lines: renumbered, ...(currentLine === undefined ? {} : { currentLine }) };
}
