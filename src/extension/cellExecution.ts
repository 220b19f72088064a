import * as vscode from 'vscode';

/**
 * Runs one cell execution: starts it, clears its outputs, runs `body` (which says whether the
 * cell succeeded), shows a thrown error in the cell, and ends the execution exactly once.
 */
export async function runCellExecution(
  execution: vscode.NotebookCellExecution,
  body: () => Promise<boolean>,
): Promise<void> {
  execution.start(Date.now());
  let success = false;
  try {
    await execution.clearOutput();
    success = await body();
  } catch (error) {
    const item = vscode.NotebookCellOutputItem.error(
      error instanceof Error ? error : new Error(String(error)),
    );
    await execution
      .appendOutput(new vscode.NotebookCellOutput([item]))
      .then(undefined, () => undefined);
  } finally {
    execution.end(success, Date.now());
  }
}
