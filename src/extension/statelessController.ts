import * as vscode from 'vscode';
import { CellOutputWriter } from './cellOutputWriter.ts';
import { NotebookCellQueues } from './cellQueue.ts';
import type { Ctx } from './ctx.ts';

const languages: Record<string, string> = { python: 'python', shellscript: 'bash' };

/**
 * "Kubernetes pod (stateless)": each cell runs as a fresh script in the executor pod. Cells of a
 * notebook run one at a time, in order.
 */
export function createStatelessController(ctx: Ctx): vscode.Disposable {
  const controller = vscode.notebooks.createNotebookController(
    'pod-runner-stateless',
    'jupyter-notebook',
    'Kubernetes pod (stateless)',
  );
  controller.description = 'Each cell runs as a new script in the Pod Runner executor pod';
  controller.supportedLanguages = Object.keys(languages);
  controller.supportsExecutionOrder = true;
  let executionOrder = 0;
  const queues = new NotebookCellQueues(controller, async (cell, execution, signal) => {
    execution.executionOrder = ++executionOrder;
    const output = new CellOutputWriter(execution);
    const language = languages[cell.document.languageId];
    if (!language) {
      output.write({
        type: 'stream',
        name: 'stderr',
        text: `Pod Runner runs Python and shell cells, not ${cell.document.languageId}.`,
      });
      await output.flushed();
      return false;
    }
    try {
      const result = await ctx.executor.run([{ language, code: cell.document.getText() }], {
        signal,
        onOutput: (chunk) => output.write({ type: 'stream', name: chunk.stream, text: chunk.text }),
      });
      if (result.exitCode !== 0) {
        output.write({ type: 'stream', name: 'stderr', text: `\nexit code ${result.exitCode}\n` });
      }
      return result.exitCode === 0;
    } finally {
      // The tail of capped output is written also when the run failed.
      await output.flushed();
    }
  });
  // Stopping the executor pod (or cancelling its start) cancels the cells using or awaiting it.
  const stopped = ctx.executor.onDidStop(() => queues.cancelAll());
  return vscode.Disposable.from(stopped, queues, controller);
}
