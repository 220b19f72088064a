import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import * as vscode from 'vscode';

/** The language of the "Pod Runner: Output" channel's document: its links come from here. */
export const runOutputLanguage = 'pod-runner-output';

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

/** The link that opens a file at a line: VS Code's opener selects the `#L<line>` fragment. */
export function locationUri(path: string, line: number): vscode.Uri {
  return vscode.Uri.file(path).with({ fragment: `L${line}` });
}

/**
 * Makes the file locations in the output channel clickable when the file exists on this machine
 * (mapped tracebacks name local files; paths only the pod has are left as text).
 */
export class TracebackLinkProvider implements vscode.DocumentLinkProvider {
  provideDocumentLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    const text = document.getText();
    return fileLocations(text)
      .filter((location) => existsSync(location.path))
      .map((location) => {
        const range = new vscode.Range(
          document.positionAt(location.start),
          document.positionAt(location.end),
        );
        const link = new vscode.DocumentLink(range, locationUri(location.path, location.line));
        link.tooltip = `Open ${location.path} at line ${location.line}`;
        return link;
      });
  }
}

/** Registers the provider for the output channel's document. */
export function registerTracebackLinks(): vscode.Disposable {
  return vscode.languages.registerDocumentLinkProvider(
    { scheme: 'output', language: runOutputLanguage },
    new TracebackLinkProvider(),
  );
}
