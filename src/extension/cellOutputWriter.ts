import * as vscode from 'vscode';
import type { KernelOutputEvent } from '../core/index.ts';
import {
  CellOutputModel,
  coalesce,
  type OutputItem,
  type OutputOperation,
} from './cellOutputModel.ts';

const toItem = (item: OutputItem) => new vscode.NotebookCellOutputItem(item.data, item.mime);

/**
 * Writes one cell's output events into its execution, in order. Operations that arrive while
 * VS Code applies an edit wait and are folded into fewer edits, so a fast stream of messages
 * costs a few edits, not one each.
 */
export class CellOutputWriter {
  private readonly model = new CellOutputModel();
  private readonly outputs = new Map<number, vscode.NotebookCellOutput>();
  private pending: OutputOperation[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly execution: vscode.NotebookCellExecution) {}

  write(event: KernelOutputEvent): void {
    this.enqueue(this.model.apply(event));
  }

  /**
   * Writes the output the cell's cap held back (its tail, behind a marker), then resolves when
   * every edit written so far has been applied: called once the cell has run.
   */
  async flushed(): Promise<void> {
    this.enqueue(this.model.finish());
    await this.draining;
  }

  private enqueue(operations: OutputOperation[]): void {
    this.pending.push(...operations);
    if (this.pending.length > 0) {
      this.draining ??= this.drain();
    }
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      for (const operation of coalesce(this.pending.splice(0))) {
        try {
          await this.edit(operation);
        } catch {
          // An edit fails only once the execution has ended or its notebook has closed; the
          // edits after it must still be tried in order.
        }
      }
    }
    this.draining = undefined;
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
