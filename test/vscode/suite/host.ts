import * as vscode from 'vscode';
import type { PodRunnerApi } from '../../../src/extension/api.ts';

/** One in-host test: it gets the extension's API and throws to fail. */
export interface HostTest {
  name: string;
  run: (api: PodRunnerApi) => Promise<void>;
}

/** The tests of one feature, run in order (later tests may build on the pods earlier ones left). */
export interface HostFeature {
  feature: string;
  tests: HostTest[];
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

export async function withTimeout<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Polls `value` until it returns something (not undefined). */
export async function eventually<T>(
  value: () => Promise<T | undefined>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await value();
    if (found !== undefined) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

const decode = (data: Uint8Array) => new TextDecoder().decode(data);

export function cellText(notebook: vscode.NotebookDocument, index: number): string {
  return notebook
    .cellAt(index)
    .outputs.flatMap((o) => o.items)
    .map((item) => decode(item.data))
    .join('');
}

export async function openKernelNotebook(sources: string[]): Promise<vscode.NotebookDocument> {
  const notebook = await vscode.workspace.openNotebookDocument(
    'jupyter-notebook',
    new vscode.NotebookData(
      sources.map(
        (code) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python'),
      ),
    ),
  );
  await vscode.window.showNotebookDocument(notebook);
  await vscode.commands.executeCommand('notebook.selectKernel', {
    id: 'pod-runner-kernel',
    extension: 'pod-runner.pod-runner',
  });
  return notebook;
}

/** Runs one cell and waits until its execution has ended. */
export async function runCell(notebook: vscode.NotebookDocument, index: number): Promise<void> {
  const before = notebook.cellAt(index).executionSummary?.timing?.endTime;
  await vscode.commands.executeCommand('notebook.cell.execute', {
    ranges: [{ start: index, end: index + 1 }],
    document: notebook.uri,
  });
  await waitFor(
    () => {
      const summary = notebook.cellAt(index).executionSummary;
      return summary?.success !== undefined && summary.timing?.endTime !== before;
    },
    120_000,
    `cell ${index} to finish`,
  );
}
