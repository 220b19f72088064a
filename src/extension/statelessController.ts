import * as vscode from 'vscode';
import type { CommandLineCodeResult, OutputStream } from '../core/index.ts';
import { CellOutputWriter } from './cellOutputWriter.ts';
import { NotebookCellQueues } from './cellQueue.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { StreamLineMappers } from './lineMapper.ts';
import { remoteFolderOf } from './workspaceSync.ts';

const languages: Record<string, string> = { python: 'python', shellscript: 'bash' };

/**
 * "Kubernetes pod (stateless)": each cell runs as a fresh script in the executor pod. Cells of a
 * notebook run one at a time, in order. A notebook of an open folder has the folder synced before
 * each cell, which runs in the notebook's folder in the pod with the folder's root importable.
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
      const result = await ctx.executor.withPod(signal, async (executor) => {
        const project = await ctx.workspaceSync.syncNotebook(
          executor,
          cell.notebook.uri,
          signal,
          (text) => ctx.output.write(text),
        );
        const { remoteToLocal } = await loadCore();
        const mappers = new StreamLineMappers<OutputStream>(
          (text) => remoteToLocal(text, executor.syncedFolders),
          (name, text) => output.write({ type: 'stream', name, text }),
        );
        try {
          return await executor.executeCodeBlocks([{ language, code: cell.document.getText() }], {
            signal,
            onOutput: (chunk) => mappers.write(chunk.stream, chunk.text),
            ...(project && {
              cwd: remoteFolderOf(project, cell.notebook.uri.fsPath),
              importRoots: [project.root],
            }),
          });
        } finally {
          mappers.flush();
        }
      });
      return reportExit(result, output);
    } finally {
      // The tail of capped output is written also when the run failed.
      await output.flushed();
    }
  });
  // Stopping the executor pod (or cancelling its start) cancels the cells using or awaiting it.
  const stopped = ctx.executor.onDidStop(() => queues.cancelAll());
  return vscode.Disposable.from(stopped, queues, controller);
}

function reportExit(result: CommandLineCodeResult, output: CellOutputWriter): boolean {
  if (result.exitCode !== 0) {
    output.write({ type: 'stream', name: 'stderr', text: `\nexit code ${result.exitCode}\n` });
  }
  return result.exitCode === 0;
}
