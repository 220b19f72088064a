import * as vscode from 'vscode';
import { runCellExecution } from './cellExecution.ts';
import type { Ctx } from './ctx.ts';

const languages: Record<string, string> = { python: 'python', shellscript: 'bash' };

/**
 * "Kubernetes pod (stateless)": each cell runs as a fresh script in the executor pod. Cells of a
 * notebook run one at a time, in order; each execution ends exactly once.
 */
export function createStatelessController(ctx: Ctx): vscode.NotebookController {
  const controller = vscode.notebooks.createNotebookController(
    'pod-runner-stateless',
    'jupyter-notebook',
    'Kubernetes pod (stateless)',
  );
  controller.description = 'Each cell runs as a new script in the Pod Runner executor pod';
  controller.supportedLanguages = Object.keys(languages);
  controller.supportsExecutionOrder = true;
  let executionOrder = 0;
  const queues = new Map<string, Promise<void>>();
  const running = new Set<AbortController>();

  controller.executeHandler = (cells, notebook) => {
    if (!vscode.workspace.isTrusted) {
      return;
    }
    const key = notebook.uri.toString();
    for (const cell of cells) {
      const execution = controller.createNotebookCellExecution(cell);
      const previous = queues.get(key) ?? Promise.resolve();
      const next = previous.then(() => runCell(execution, cell, ++executionOrder));
      queues.set(key, next);
    }
  };
  controller.interruptHandler = () => {
    for (const abort of running) {
      abort.abort();
    }
  };

  async function runCell(
    execution: vscode.NotebookCellExecution,
    cell: vscode.NotebookCell,
    order: number,
  ): Promise<void> {
    const abort = new AbortController();
    running.add(abort);
    const cancel = execution.token.onCancellationRequested(() => abort.abort());
    execution.executionOrder = order;
    try {
      await runCellExecution(execution, async () => {
        const language = languages[cell.document.languageId];
        if (!language) {
          await execution.replaceOutput(
            new vscode.NotebookCellOutput([
              vscode.NotebookCellOutputItem.stderr(
                `Pod Runner runs Python and shell cells, not ${cell.document.languageId}.`,
              ),
            ]),
          );
          return false;
        }
        const output = new vscode.NotebookCellOutput([]);
        await execution.replaceOutput(output);
        let pending = Promise.resolve();
        const result = await ctx.executor.run([{ language, code: cell.document.getText() }], {
          signal: abort.signal,
          onOutput: (chunk) => {
            const item =
              chunk.stream === 'stdout'
                ? vscode.NotebookCellOutputItem.stdout(chunk.text)
                : vscode.NotebookCellOutputItem.stderr(chunk.text);
            pending = pending.then(() => execution.appendOutputItems(item, output));
          },
        });
        await pending;
        if (result.exitCode !== 0) {
          await execution.appendOutput(
            new vscode.NotebookCellOutput([
              vscode.NotebookCellOutputItem.stderr(`\nexit code ${result.exitCode}\n`),
            ]),
          );
        }
        return result.exitCode === 0;
      });
    } finally {
      cancel.dispose();
      running.delete(abort);
    }
  }

  ctx.push(controller);
  return controller;
}
