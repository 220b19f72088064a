import { posix } from 'node:path';
import * as vscode from 'vscode';
import type { CellOrigin } from '../core/cellTraceback.ts';
import { extensionId, interactiveSuffix, kernelControllerId } from './controllerIds.ts';

/** A piece of a `.py` file to run in its Interactive Window. */
export interface FileCell {
  kind: 'code' | 'markdown';
  text: string;
  /** 0-based line of the file where `text` starts: error lines of the cell are counted from it. */
  bodyLine: number;
}

/** The file and line a cell's code came from, as the cell's metadata carries it. */
export function cellOriginOf(cell: vscode.NotebookCell): CellOrigin | undefined {
  const origin: unknown = cell.metadata.podRunner;
  if (
    typeof origin === 'object' &&
    origin !== null &&
    'file' in origin &&
    'bodyLine' in origin &&
    typeof origin.file === 'string' &&
    typeof origin.bodyLine === 'number'
  ) {
    return { file: origin.file, bodyLine: origin.bodyLine };
  }
  return undefined;
}

/**
 * One Interactive Window per `.py` file, opened with the gateway kernel's controller: each gets
 * its own kernel in the window's gateway pod (closing the window stops it). Cells are added at
 * the end of the window and run in order.
 */
export class InteractiveWindows implements vscode.Disposable {
  /** Each file's window (the window's notebook URI), by the file's URI. */
  private readonly windows = new Map<string, vscode.Uri>();
  /** Each window's file, by the window's notebook URI. */
  private readonly files = new Map<string, vscode.Uri>();
  /** A window being opened, by the file's URI: a second run meanwhile waits for the same one. */
  private readonly opening = new Map<string, Promise<vscode.NotebookDocument>>();
  /**
   * The last addition of cells to each window, by the window's URI: the next waits for it, or
   * both would insert at the same index and run the same cell.
   */
  private readonly additions = new Map<string, Promise<void>>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    vscode.workspace.onDidCloseNotebookDocument(
      (notebook) => this.forget(notebook.uri),
      null,
      this.subscriptions,
    );
  }

  /**
   * The `.py` file whose cells an Interactive Window runs, if it is one of these. A window this
   * extension host did not open (it was restored after a restart) is known by its cells'
   * metadata, and adopted.
   */
  sourceOf(notebook: vscode.NotebookDocument): vscode.Uri | undefined {
    if (notebook.notebookType !== 'interactive') {
      return undefined;
    }
    const known = this.files.get(notebook.uri.toString());
    if (known) {
      return known;
    }
    const origin = notebook.getCells().map(cellOriginOf).find(Boolean);
    if (!origin) {
      return undefined;
    }
    const file = vscode.Uri.file(origin.file);
    if (!this.windowOf(file)) {
      this.remember(file, notebook.uri);
    }
    return file;
  }

  /** The file's Interactive Window, if it is open: one opened here, or a restored one of it. */
  private windowOf(file: vscode.Uri): vscode.NotebookDocument | undefined {
    const window = this.windows.get(file.toString());
    const open = window && openNotebook(window);
    if (open) {
      return open;
    }
    const restored = vscode.workspace.notebookDocuments.find(
      (notebook) =>
        notebook.notebookType === 'interactive' &&
        !this.files.has(notebook.uri.toString()) &&
        notebook.getCells().some((cell) => cellOriginOf(cell)?.file === file.fsPath),
    );
    if (restored) {
      this.remember(file, restored.uri);
    }
    return restored;
  }

  private remember(file: vscode.Uri, window: vscode.Uri): void {
    this.windows.set(file.toString(), window);
    this.files.set(window.toString(), file);
  }

  /**
   * Adds `cells` to the file's Interactive Window (opened beside the editor when it is not) and
   * runs the code cells among them; resolves once their runs are queued.
   */
  async run(file: vscode.Uri, cells: readonly FileCell[]): Promise<vscode.NotebookDocument> {
    const notebook = await this.windowFor(file);
    const key = notebook.uri.toString();
    const addition = (this.additions.get(key) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.add(notebook, file, cells));
    this.additions.set(key, addition);
    try {
      await addition;
    } finally {
      if (this.additions.get(key) === addition) {
        this.additions.delete(key);
      }
    }
    return notebook;
  }

  private async add(
    notebook: vscode.NotebookDocument,
    file: vscode.Uri,
    cells: readonly FileCell[],
  ): Promise<void> {
    const first = notebook.cellCount;
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.uri, [
      vscode.NotebookEdit.insertCells(
        first,
        cells.map((cell) => cellData(file, cell)),
      ),
    ]);
    if (!(await vscode.workspace.applyEdit(edit))) {
      throw new Error(`cannot add cells to the Interactive Window of ${file.fsPath}`);
    }
    const ranges = cells.flatMap((cell, index) =>
      cell.kind === 'code' ? [{ start: first + index, end: first + index + 1 }] : [],
    );
    if (ranges.length > 0) {
      await vscode.commands.executeCommand('notebook.cell.execute', {
        ranges,
        document: notebook.uri,
      });
    }
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }

  private windowFor(file: vscode.Uri): Promise<vscode.NotebookDocument> {
    const key = file.toString();
    const pending = this.opening.get(key);
    if (pending) {
      return pending;
    }
    const opened = this.openWindow(file).finally(() => this.opening.delete(key));
    this.opening.set(key, opened);
    return opened;
  }

  private async openWindow(file: vscode.Uri): Promise<vscode.NotebookDocument> {
    const open = this.windowOf(file);
    const opened = await vscode.commands.executeCommand<{
      notebookUri: vscode.Uri;
      notebookEditor?: vscode.NotebookEditor;
    }>(
      'interactive.open',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      open?.uri,
      `${extensionId}/${kernelControllerId}${interactiveSuffix}`,
      `Pod Runner: ${posix.basename(file.path)}`,
    );
    const notebook = opened.notebookEditor?.notebook ?? openNotebook(opened.notebookUri);
    if (!notebook) {
      throw new Error(`the Interactive Window of ${file.fsPath} did not open`);
    }
    if (!open) {
      this.remember(file, notebook.uri);
    }
    return notebook;
  }

  private forget(window: vscode.Uri): void {
    const file = this.files.get(window.toString());
    this.files.delete(window.toString());
    if (file && this.windows.get(file.toString())?.toString() === window.toString()) {
      this.windows.delete(file.toString());
    }
  }
}

/** The open notebook (or Interactive Window) of `uri`, if any. */
export function openNotebook(uri: vscode.Uri): vscode.NotebookDocument | undefined {
  return vscode.workspace.notebookDocuments.find(
    (notebook) => notebook.uri.toString() === uri.toString(),
  );
}

function cellData(file: vscode.Uri, cell: FileCell): vscode.NotebookCellData {
  const data =
    cell.kind === 'code'
      ? new vscode.NotebookCellData(vscode.NotebookCellKind.Code, cell.text, 'python')
      : new vscode.NotebookCellData(vscode.NotebookCellKind.Markup, cell.text, 'markdown');
  const origin: CellOrigin = { file: file.fsPath, bodyLine: cell.bodyLine };
  data.metadata = { podRunner: origin };
  return data;
}
