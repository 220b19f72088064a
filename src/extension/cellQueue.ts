import * as vscode from 'vscode';
import { isCancellation } from './cancellation.ts';

/**
 * Runs one cell: receives the cell's cancellation as an AbortSignal and says whether it succeeded.
 * Output goes into `execution`.
 */
export type CellRunner = (
  cell: vscode.NotebookCell,
  execution: vscode.NotebookCellExecution,
  signal: AbortSignal,
) => Promise<boolean>;

/**
 * One cell's execution, from queued to ended. It ends exactly once: cancelled while queued, it
 * ends at once and never runs; cancelled while running, its signal tells the runner to stop.
 */
class CellRun {
  private readonly abort = new AbortController();
  private readonly cancellation: vscode.Disposable;
  private state: 'queued' | 'running' | 'ended' = 'queued';
  /** Cancelled because its pod was stopped: how the run then fails is the stop's doing. */
  private podStopped = false;

  constructor(
    readonly cell: vscode.NotebookCell,
    private readonly execution: vscode.NotebookCellExecution,
  ) {
    this.cancellation = execution.token.onCancellationRequested(() => this.cancel());
  }

  cancel(podStopped = false): void {
    this.podStopped ||= podStopped;
    this.abort.abort();
    if (this.state === 'queued') {
      this.end(undefined);
    }
  }

  /** Runs the cell unless it was cancelled while queued; never rejects. */
  async run(runner: CellRunner, clearOutput: boolean): Promise<void> {
    if (this.state !== 'queued') {
      return;
    }
    this.state = 'running';
    this.execution.start(Date.now());
    let success: boolean | undefined = false;
    try {
      if (clearOutput) {
        await this.execution.clearOutput();
      }
      success = await runner(this.cell, this.execution, this.abort.signal);
    } catch (error) {
      if (isCancellation(error) || this.podStopped) {
        // Cancelled before the code ran (while its pod started), or its pod was stopped: no
        // outcome to show. Any other failure, even after the user's cancel, is shown.
        success = undefined;
      } else {
        const item = vscode.NotebookCellOutputItem.error(
          error instanceof Error ? error : new Error(String(error)),
        );
        await this.execution
          .appendOutput(new vscode.NotebookCellOutput([item]))
          .then(undefined, () => undefined);
      }
    } finally {
      this.end(success);
    }
  }

  private end(success: boolean | undefined): void {
    if (this.state === 'ended') {
      return;
    }
    this.state = 'ended';
    this.cancellation.dispose();
    this.execution.end(success, Date.now());
  }
}

interface NotebookQueue {
  tail: Promise<void>;
  runs: Set<CellRun>;
}

/**
 * The controller's cells, one FIFO per notebook: cells of a notebook run one at a time, in the
 * order they were queued; notebooks do not wait for each other. A notebook's queue goes away when
 * it empties or the notebook closes (its cells are cancelled then).
 */
export class NotebookCellQueues implements vscode.Disposable {
  private readonly queues = new Map<string, NotebookQueue>();
  private readonly subscriptions: vscode.Disposable[] = [];

  /** One controller per notebook type it serves (a notebook, an Interactive Window). */
  private readonly controllers: readonly vscode.NotebookController[];

  constructor(
    controllers: vscode.NotebookController | readonly vscode.NotebookController[],
    runner: CellRunner,
  ) {
    this.controllers = Array.isArray(controllers) ? controllers : [controllers];
    for (const controller of this.controllers) {
      controller.executeHandler = (cells, notebook) => this.enqueue(cells, notebook, runner, true);
    }
    vscode.workspace.onDidCloseNotebookDocument(
      (notebook) => this.cancel(notebook),
      null,
      this.subscriptions,
    );
  }

  /**
   * Queues a cell that ran before (when the last window closed) to be followed by `runner`: it
   * shows as running, and its earlier output stays.
   */
  resume(cell: vscode.NotebookCell, runner: CellRunner): void {
    this.enqueue([cell], cell.notebook, runner, false);
  }

  private enqueue(
    cells: vscode.NotebookCell[],
    notebook: vscode.NotebookDocument,
    runner: CellRunner,
    clearOutput: boolean,
  ): void {
    if (!vscode.workspace.isTrusted) {
      return;
    }
    const key = notebook.uri.toString();
    const queue = this.queues.get(key) ?? { tail: Promise.resolve(), runs: new Set<CellRun>() };
    this.queues.set(key, queue);
    const forgetIfEmpty = () => {
      if (queue.runs.size === 0 && this.queues.get(key) === queue) {
        this.queues.delete(key);
      }
    };
    try {
      for (const cell of cells) {
        const run = new CellRun(
          cell,
          this.controllerFor(notebook).createNotebookCellExecution(cell),
        );
        queue.runs.add(run);
        queue.tail = queue.tail
          .then(() => run.run(runner, clearOutput))
          .finally(() => {
            queue.runs.delete(run);
            forgetIfEmpty();
          });
      }
    } finally {
      // VS Code refused an execution (the cell runs already): no empty queue stays behind.
      forgetIfEmpty();
    }
  }

  private controllerFor(notebook: vscode.NotebookDocument): vscode.NotebookController {
    return (
      this.controllers.find((controller) => controller.notebookType === notebook.notebookType) ??
      this.controllers[0]!
    );
  }

  /** Cancels every queued and running cell of the notebook. */
  cancel(notebook: vscode.NotebookDocument): void {
    const key = notebook.uri.toString();
    const queue = this.queues.get(key);
    this.queues.delete(key);
    for (const run of queue?.runs ?? []) {
      run.cancel();
    }
  }

  /** Cancels every notebook's queued and running cells: their pod was stopped. */
  cancelAll(): void {
    const queues = [...this.queues.values()];
    this.queues.clear();
    for (const queue of queues) {
      for (const run of queue.runs) {
        run.cancel(true);
      }
    }
  }

  dispose(): void {
    this.cancelAll();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }
}
