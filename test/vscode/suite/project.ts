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
