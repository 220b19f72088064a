import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { PodRunnerApi } from '../../../src/extension/api.ts';
import { check, withTimeout } from './host.ts';

/** The host's workspace folder: a copy of the sample project (test/vscode/sample). */
export function projectFolder(): vscode.WorkspaceFolder {
  const folder = vscode.workspace.workspaceFolders?.[0];
  check(folder, 'the host has no workspace folder');
  return folder;
}

export function projectPath(...parts: string[]): string {
  return join(projectFolder().uri.fsPath, ...parts);
}

/** Where the project is in the pod: `<workspacePath>/<folder name>`. */
export function remoteRoot(): string {
  return `/workspace/${projectFolder().name}`;
}

/** Runs a Pod Runner command from an editor on the project's file, and returns what the output channel got. */
export async function runFromEditor(
  api: PodRunnerApi,
  command: 'podRunner.runFile' | 'podRunner.runSelection',
  file: string,
  selection?: vscode.Selection,
): Promise<string> {
  const editor = await vscode.window.showTextDocument(vscode.Uri.file(projectPath(file)));
  if (selection) {
    editor.selection = selection;
  }
  let written = '';
  const subscription = api.onDidWriteOutput((text) => (written += text));
  try {
    await withTimeout(vscode.commands.executeCommand(command), 120_000, command);
  } finally {
    subscription.dispose();
  }
  return written;
}

/** The document of the "Pod Runner: Output" channel (it is open once the channel has shown). */
export function outputDocument(): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find(
    (document) => document.uri.scheme === 'output' && document.languageId === 'pod-runner-output',
  );
}

/** Writes a notebook of code cells into the project, opens it and picks the controller. */
export async function openProjectNotebook(
  file: string,
  sources: string[],
  controller: 'pod-runner-kernel' | 'pod-runner-stateless',
): Promise<vscode.NotebookDocument> {
  const path = projectPath(file);
  const cells = sources.map((source) => ({
    cell_type: 'code',
    execution_count: null,
    metadata: {},
    outputs: [],
    source,
  }));
  await writeFile(path, JSON.stringify({ cells, metadata: {}, nbformat: 4, nbformat_minor: 5 }));
  const notebook = await vscode.workspace.openNotebookDocument(vscode.Uri.file(path));
  await vscode.window.showNotebookDocument(notebook);
  await vscode.commands.executeCommand('notebook.selectKernel', {
    id: controller,
    extension: 'pod-runner.pod-runner',
  });
  return notebook;
}
