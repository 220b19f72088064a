import * as vscode from 'vscode';
import {
  cellAt,
  codeFromLine,
  hasCellMarkers,
  pythonCells,
  type PythonCell,
} from '../core/pythonCells.ts';
import type { Ctx } from './ctx.ts';
import type { FileCell } from './interactiveWindows.ts';

type CellCtx = Pick<Ctx, 'settings' | 'interactive' | 'showError'>;

/** The context key that lets Shift+Enter run the current cell (see package.json keybindings). */
const shiftEnterKey = 'podRunner.cellShiftEnter';

/**
 * Python files on disk or untitled: not a notebook cell, nor the Interactive Window's input box,
 * whose text may hold a `# %%` line too.
 */
const pythonFiles: vscode.DocumentFilter[] = [
  { scheme: 'file', language: 'python' },
  { scheme: 'untitled', language: 'python' },
];

function isPythonFile(document: vscode.TextDocument | undefined): document is vscode.TextDocument {
  return document !== undefined && vscode.languages.match(pythonFiles, document) > 0;
}

/**
 * Whether the Jupyter extension shows its own cell lenses (and binds Shift+Enter) for the file:
 * Pod Runner then adds neither, so no file gets two sets.
 */
function jupyterOwnsCells(document: vscode.TextDocument): boolean {
  return (
    vscode.extensions.getExtension('ms-toolsai.jupyter') !== undefined &&
    vscode.workspace
      .getConfiguration('jupyter', document.uri)
      .get<boolean>('interactiveWindow.codeLens.enable', true)
  );
}

/** Run Cell, Run Above and Run Below over each code cell of a Python file with `# %%` markers. */
class CellLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly ctx: CellCtx) {}

  refresh(): void {
    this.changed.fire();
  }

  dispose(): void {
    this.changed.dispose();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    if (!this.ctx.settings.interactiveWindow.codeLenses || jupyterOwnsCells(document)) {
      return [];
    }
    const cells = pythonCells(document.getText()).filter((cell) => cell.kind === 'code');
    return cells.flatMap((cell, index) => {
      const range = new vscode.Range(cell.markerLine, 0, cell.markerLine, 0);
      const lens = (title: string, command: string, tooltip: string) =>
        new vscode.CodeLens(range, {
          title,
          command: `podRunner.${command}`,
          arguments: [document.uri, cell.markerLine],
          tooltip: `${tooltip} on the Kubernetes kernel, in the Interactive Window`,
        });
      return [
        lens('Run Cell', 'runCell', 'Run this cell'),
        ...(index > 0 ? [lens('Run Above', 'runCellsAbove', 'Run the cells above')] : []),
        lens('Run Below', 'runCellAndBelow', 'Run this cell and the cells below'),
      ];
    });
  }
}

/** The lenses, and the Shift+Enter context key kept current for the active editor. */
export function registerCellLenses(ctx: CellCtx): vscode.Disposable {
  const provider = new CellLensProvider(ctx);
  const updateShiftEnter = () => {
    const document = vscode.window.activeTextEditor?.document;
    let enabled = false;
    try {
      enabled =
        isPythonFile(document) &&
        ctx.settings.interactiveWindow.shiftEnter &&
        !jupyterOwnsCells(document) &&
        hasCellMarkers(document.getText());
    } catch {
      // Invalid settings are reported where they are used; Shift+Enter stays the editor's.
    }
    void vscode.commands.executeCommand('setContext', shiftEnterKey, enabled);
  };
  updateShiftEnter();
  return vscode.Disposable.from(
    provider,
    vscode.languages.registerCodeLensProvider(pythonFiles, provider),
    vscode.window.onDidChangeActiveTextEditor(updateShiftEnter),
    vscode.workspace.onDidChangeTextDocument(
      (event) => event.document === vscode.window.activeTextEditor?.document && updateShiftEnter(),
    ),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('podRunner') || event.affectsConfiguration('jupyter')) {
        provider.refresh();
        updateShiftEnter();
      }
    }),
    vscode.extensions.onDidChange(() => {
      provider.refresh();
      updateShiftEnter();
    }),
  );
}

/** Which of the file's cells a command runs, given the cell it was asked for. */
const choices: Record<
  'cell' | 'above' | 'below',
  (cells: readonly PythonCell[], current: PythonCell) => readonly PythonCell[]
> = {
  cell: (_cells, current) => [current],
  above: (cells, current) => cells.filter((cell) => cell.markerLine < current.markerLine),
  below: (cells, current) => cells.filter((cell) => cell.markerLine >= current.markerLine),
};

/** The editor's document the command is for: the lens's file, else the active Python editor. */
async function documentOf(uri: unknown): Promise<vscode.TextDocument | undefined> {
  if (uri instanceof vscode.Uri) {
    return vscode.workspace.openTextDocument(uri);
  }
  const document = vscode.window.activeTextEditor?.document;
  return isPythonFile(document) ? document : undefined;
}

function fileCells(cells: readonly PythonCell[]): FileCell[] {
  return cells.map(({ kind, text, bodyLine }) => ({ kind, text, bodyLine }));
}

/**
 * Runs the cell at `line` of the file (the lens's arguments; else the active editor's cursor),
 * the cells above it, or it and the cells below, in the file's Interactive Window.
 */
export async function runCells(
  ctx: CellCtx,
  uri: unknown,
  line: unknown,
  which: 'cell' | 'above' | 'below',
): Promise<void> {
  const document = await documentOf(uri);
  if (!document) {
    void vscode.window.showInformationMessage('Pod Runner: open a Python file with # %% cells.');
    return;
  }
  const at =
    typeof line === 'number' ? line : (vscode.window.activeTextEditor?.selection.active.line ?? 0);
  const cells = pythonCells(document.getText());
  const current = cellAt(cells, at);
  const chosen = current ? choices[which](cells, current) : [];
  if (chosen.length === 0) {
    void vscode.window.showInformationMessage(
      current
        ? `Pod Runner: no cell above line ${at + 1} of ${vscode.workspace.asRelativePath(document.uri)}.`
        : `Pod Runner: line ${at + 1} of ${vscode.workspace.asRelativePath(document.uri)} is in no # %% cell.`,
    );
    return;
  }
  await ctx.interactive.run(document.uri, fileCells(chosen));
}

/** Shift+Enter presses, one at a time: each reads the cursor the one before it moved. */
let advancing: Promise<void> = Promise.resolve();

/** Runs the cell at the cursor, after moving the cursor to the next cell (a new one at the end). */
export function runAndAdvance(ctx: CellCtx): Promise<void> {
  const turn = advancing.then(() => advance(ctx));
  advancing = turn.catch(() => undefined);
  return turn;
}

async function advance(ctx: CellCtx): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !isPythonFile(editor.document)) {
    return;
  }
  const { document } = editor;
  const line = editor.selection.active.line;
  const next = pythonCells(document.getText()).find((cell) => cell.markerLine > line);
  let target = next?.bodyLine;
  if (target === undefined) {
    const end = document.lineAt(document.lineCount - 1).range.end;
    await editor.edit((edit) => edit.insert(end, end.character === 0 ? '# %%\n' : '\n\n# %%\n'));
    target = document.lineCount - 1;
  }
  const position = new vscode.Position(target, 0);
  editor.selection = new vscode.Selection(position, position);
  editor.revealRange(new vscode.Range(position, position));
  await runCells(ctx, document.uri, line, 'cell');
}

/** The whole file: its cells, or the file as one cell when it has none. */
export async function runFileCells(ctx: CellCtx, uri: unknown): Promise<void> {
  const document = await documentOf(uri);
  if (!document) {
    return;
  }
  const text = document.getText();
  const cells = pythonCells(text);
  await ctx.interactive.run(
    document.uri,
    cells.length > 0 ? fileCells(cells) : [{ kind: 'code', ...codeFromLine(text, 0) }],
  );
}

/** The selection (the cursor's line when nothing is selected) as one cell. */
export async function runSelectionCell(ctx: CellCtx): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !isPythonFile(editor.document)) {
    return;
  }
  const { selection, document } = editor;
  const range = selection.isEmpty ? document.lineAt(selection.active.line).range : selection;
  await ctx.interactive.run(document.uri, [
    { kind: 'code', ...codeFromLine(document.getText(range), range.start.line) },
  ]);
}
