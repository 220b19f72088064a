import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { linkableLocations } from './fileLocations.ts';

/** The language of the "Pod Runner: Output" channel's document: its links come from here. */
export const runOutputLanguage = 'pod-runner-output';

/** The link that opens a file at a line: VS Code's opener selects the `#L<line>` fragment. */
function locationUri(path: string, line: number): vscode.Uri {
  return vscode.Uri.file(path).with({ fragment: `L${line}` });
}

/**
 * Makes the file locations in the output channel clickable when the file exists on this machine
 * (mapped tracebacks name local files; paths only the pod has are left as text). Only the end of
 * a long channel gets links, so the work per change stays bounded.
 */
class TracebackLinkProvider implements vscode.DocumentLinkProvider {
  provideDocumentLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    return linkableLocations(document.getText(), existsSync).map((location) => {
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
