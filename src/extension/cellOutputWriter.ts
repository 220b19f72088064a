import * as vscode from 'vscode';
import type { KernelOutputEvent } from '../core/index.ts';
import { CellOutputModel, type OutputItem, type OutputOperation } from './cellOutputModel.ts';

const toItem = (item: OutputItem) => new vscode.NotebookCellOutputItem(item.data, item.mime);

/** Writes one cell's output events into its execution, one edit at a time, in order. */
export class CellOutputWriter {
  private readonly model = new CellOutputModel();
  private readonly outputs = new Map<number, vscode.NotebookCellOutput>();
  private chain = Promise.resolve();

  constructor(private readonly execution: vscode.NotebookCellExecution) {}

  write(event: KernelOutputEvent): void {
    this.enqueue(this.model.apply(event));
  }

  /**
   * Writes the output the cell's cap held back (its tail, behind a marker), then resolves when
   * every edit written so far has been applied: called once the cell has run.
   */
  flushed(): Promise<void> {
    this.enqueue(this.model.finish());
    return this.chain;
  }

  private enqueue(operations: OutputOperation[]): void {
    for (const operation of operations) {
      // An edit fails only once the execution has ended or its notebook has closed; the
      // edits after it must still be tried in order, so the chain goes on.
      this.chain = this.chain.then(() => this.edit(operation)).then(undefined, () => undefined);
    }
  }

  private async edit(operation: OutputOperation): Promise<void> {
    switch (operation.kind) {
      case 'executionOrder':
        this.execution.executionOrder = operation.value;
        return;
      case 'clear':
        this.outputs.clear();
        await this.execution.clearOutput();
        return;
      case 'append': {
        const output = new vscode.NotebookCellOutput(operation.items.map(toItem));
        this.outputs.set(operation.output, output);
        await this.execution.appendOutput(output);
        return;
      }
      case 'appendItems': {
        const output = this.outputs.get(operation.output);
        if (output) {
          await this.execution.appendOutputItems(operation.items.map(toItem), output);
        }
        return;
      }
      case 'replace': {
        const output = this.outputs.get(operation.output);
        if (output) {
          await this.execution.replaceOutputItems(operation.items.map(toItem), output);
        }
        return;
      }
    }
  }
}
