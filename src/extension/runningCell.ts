import { createHash } from 'node:crypto';
import type * as vscode from 'vscode';

/** The cell a window recorded as running: where it was, what it ran, its request. */
export interface RunningCell {
  cell: number;
  /** The SHA-256 of the cell's code, which finds the cell again once cells moved. */
  codeHash: string;
  requestId: string;
}

export function codeHashOf(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/**
 * The cell of `notebook` that `running` names: the one at its index when it holds the same code,
 * else the first that does (cells were added or removed above it); none when no cell holds it.
 */
export function recordedCell(
  notebook: Pick<vscode.NotebookDocument, 'cellCount' | 'cellAt'>,
  running: RunningCell,
): vscode.NotebookCell | undefined {
  const holdsCode = (index: number) =>
    codeHashOf(notebook.cellAt(index).document.getText()) === running.codeHash;
  if (running.cell < notebook.cellCount && holdsCode(running.cell)) {
    return notebook.cellAt(running.cell);
  }
  for (let index = 0; index < notebook.cellCount; index++) {
    if (holdsCode(index)) {
      return notebook.cellAt(index);
    }
  }
  return undefined;
}
