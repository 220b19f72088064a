/** One cell of a Python file split by `# %%` markers (the Interactive Window's cells). */
export interface PythonCell {
  kind: 'code' | 'markdown';
  /** 0-based line of the cell marker (`# %%`); 0 for the preamble, the code before the first marker. */
  markerLine: number;
  /**
   * 0-based first line of the body after its leading blank lines (the line after the marker when
   * the body is blank). For code cells line i of `text` is file line bodyLine + i, and it is line
   * i + 1 of the cell in IPython's tracebacks, since IPython drops a cell's leading blank lines.
   */
  bodyLine: number;
  /** 0-based last line of the cell (inclusive): the line before the next marker, or the file's last line. */
  endLine: number;
  /**
   * The body's text, leading and trailing blank lines trimmed: for code cells the lines as they
   * are; for markdown cells the lines with their leading `# ` / `#` removed, or the content of a
   * `"""..."""` / `'''...'''` string when the body is one such string.
   */
  text: string;
  /** The title after the marker, if any (`# %% Load data` → `Load data`). */
  title?: string;
}

/**
 * A cell marker at the very start of a line, as the Jupyter extension and Spyder read them:
 * `# %%` / `#%%` (then end of line or whitespace, so `# %%%` is no marker) or `# In[ ]:` /
 * `# In[12]:`, optionally followed by `[markdown]` / `[md]` and a title.
 */
const markerPattern = /^# ?(?:%%(?=\s|\[|$)|In\[[\d ]*\]:)[ \t]*(?:\[(markdown|md)\])?[ \t]*(.*)$/;
const blankLine = /^\s*$/;
/** A body that is one triple-quoted string (the delimiter does not occur inside). */
const docString = /^("""|''')((?:(?!\1)[\s\S])*)\1$/;

interface Marker {
  line: number;
  kind: PythonCell['kind'];
  title: string;
}

/** The cells of `source`, in order; none when it has no cell marker. */
export function pythonCells(source: string): PythonCell[] {
  const lines = source.split(/\r?\n/);
  const markers = findMarkers(lines);
  if (markers.length === 0) {
    return [];
  }
  const cells: PythonCell[] = [];
  const preamble = trimBlankLines(lines, 0, markers[0]!.line - 1);
  if (preamble) {
    cells.push({
      kind: 'code',
      markerLine: 0,
      bodyLine: preamble.first,
      endLine: markers[0]!.line - 1,
      text: preamble.lines.join('\n'),
    });
  }
  markers.forEach((marker, index) => {
    const endLine = index + 1 < markers.length ? markers[index + 1]!.line - 1 : lines.length - 1;
    const body = trimBlankLines(lines, marker.line + 1, endLine);
    cells.push({
      kind: marker.kind,
      markerLine: marker.line,
      bodyLine: body?.first ?? marker.line + 1,
      endLine,
      text: body ? cellText(marker.kind, body.lines) : '',
      ...(marker.title ? { title: marker.title } : {}),
    });
  });
  return cells;
}

/** Whether `source` has a cell marker, so it can run cell by cell. */
export function hasCellMarkers(source: string): boolean {
  return findMarkers(source.split(/\r?\n/)).length > 0;
}

/**
 * Code that starts at 0-based `line` of a file, without its leading blank lines, as IPython
 * numbers it (from its first non-blank line, whitespace as `str.isspace` sees it): the text and
 * the line it now starts at.
 */
export function codeFromLine(text: string, line: number): { text: string; bodyLine: number } {
  const lines = text.split(/\r?\n/);
  const body = trimBlankLines(lines, 0, lines.length - 1);
  return body
    ? { text: body.lines.join('\n'), bodyLine: line + body.first }
    : { text: '', bodyLine: line };
}

/** The cell containing the 0-based `line`; undefined before the first marker when there is no preamble. */
export function cellAt(cells: readonly PythonCell[], line: number): PythonCell | undefined {
  return cells.find((cell) => cell.markerLine <= line && line <= cell.endLine);
}

function findMarkers(lines: readonly string[]): Marker[] {
  const markers: Marker[] = [];
  lines.forEach((text, line) => {
    const match = markerPattern.exec(text);
    if (match) {
      markers.push({ line, kind: match[1] ? 'markdown' : 'code', title: match[2]!.trim() });
    }
  });
  return markers;
}

/** Lines first..last without the blank lines at either end, or undefined when all are blank. */
function trimBlankLines(
  lines: readonly string[],
  first: number,
  last: number,
): { first: number; lines: string[] } | undefined {
  let start = first;
  let end = last;
  while (start <= end && blankLine.test(lines[start]!)) {
    start++;
  }
  while (end >= start && blankLine.test(lines[end]!)) {
    end--;
  }
  return start <= end ? { first: start, lines: lines.slice(start, end + 1) } : undefined;
}

function cellText(kind: PythonCell['kind'], lines: readonly string[]): string {
  if (kind === 'code') {
    return lines.join('\n');
  }
  const joined = lines.join('\n');
  const quoted = docString.exec(joined.trim());
  if (quoted) {
    return quoted[2]!.replace(/^\n|\n$/g, '');
  }
  return lines.map((line) => line.replace(/^#\s?/, '')).join('\n');
}
