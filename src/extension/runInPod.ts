import * as vscode from 'vscode';
import type {
  CommandLineCodeResult,
  OutputChunk,
  PathMapping,
  PodCommandLineCodeExecutor,
  SyncResult,
} from '../core/index.ts';
import { defaultMaxOutputBytes } from '../core/outputCollector.ts';
import { signalFromToken } from './cancellation.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { LineMapper } from './lineMapper.ts';
import { OutputCap } from './outputCap.ts';
import {
  ignoredReason,
  projectFolderOf,
  skippedReason,
  type ProjectFolder,
} from './workspaceSync.ts';

const languageOf: Record<string, string> = { python: 'python', shellscript: 'bash' };

/** Code to run and where it came from. */
export interface RunRequest {
  language: string;
  code: string;
  /** How the output header names it: `app/main.py`, `app/main.py:7`, `API call`. */
  label: string;
  /** The editor's file: all of it, or the code starting at `startLine` (1-based) of it. */
  origin?: { uri: vscode.Uri; startLine: number; wholeFile: boolean };
  /** Without an origin: a folder whose mirror the code runs in, from its root. */
  project?: vscode.Uri;
}

/**
 * Runs code in the executor pod with a cancellable progress notification and its output streamed
 * to the output channel, capped as the executor caps the result. Code from a file of an open
 * folder runs in that folder's mirror in the pod, synced first (a whole file runs in place), and
 * the pod's paths in its output are shown as the local ones.
 */
export async function runInPod(
  ctx: Ctx,
  request: RunRequest,
  signal?: AbortSignal,
): Promise<CommandLineCodeResult> {
  const executor = await ctx.executor.ensureStarted();
  const context = executor.context ?? '(unknown)';
  ctx.output.show();
  ctx.output.header(
    { context, namespace: executor.namespace, pod: executor.podName },
    request.language,
    request.label,
  );
  const startedAt = Date.now();
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Pod Runner: running ${request.label}`,
        cancellable: true,
      },
      async (progress, token) => {
        const cancellation = signalFromToken(token);
        try {
          const combined = signal
            ? AbortSignal.any([signal, cancellation.signal])
            : cancellation.signal;
          return await ctx.executor.use(executor, async () => {
            const syncFrom = request.origin?.uri ?? request.project;
            const project = syncFrom && projectFolderOf(syncFrom, ctx.settingsFor(syncFrom));
            let synced: SyncResult | undefined;
            if (project) {
              if (request.origin?.wholeFile) {
                // Run File runs the file the pod has: the editor's unsaved text must reach it.
                await saveIfDirty(request.origin.uri);
              }
              progress.report({ message: `syncing ${project.folder.name}` });
              synced = await ctx.workspaceSync.sync(executor, project, { signal: combined });
              ctx.output.write(ctx.workspaceSync.describe(synced));
              progress.report({ message: '' });
            }
            // The executor says, before a block's output comes, how its pod paths map home.
            const mappings: { current: readonly PathMapping[] } = {
              current: executor.syncedFolders,
            };
            return streamMapped(ctx, mappings, (onOutput) =>
              execute(ctx, executor, request, project && synced && { project, result: synced }, {
                signal: combined,
                onOutput,
                onPathMappings: (current) => (mappings.current = current),
              }),
            );
          });
        } finally {
          cancellation.dispose();
        }
      },
    );
    ctx.output.footer(result, startedAt);
    return result;
  } catch (error) {
    ctx.output.footer(error as Error, startedAt);
    throw error;
  }
}

async function saveIfDirty(uri: vscode.Uri): Promise<void> {
  const document = vscode.workspace.textDocuments.find(
    (open) => open.uri.toString() === uri.toString(),
  );
  if (document?.isDirty && !(await document.save())) {
    throw new Error(`${vscode.workspace.asRelativePath(uri)} could not be saved`);
  }
}

/**
 * Streams a run's output to the channel, capped, with the pod's paths of synced folders mapped.
 * Output the run returned without streaming it (an error of the executor's own) is written too.
 */
async function streamMapped(
  ctx: Ctx,
  mappings: { readonly current: readonly PathMapping[] },
  run: (onOutput: (chunk: OutputChunk) => void) => Promise<CommandLineCodeResult>,
): Promise<CommandLineCodeResult> {
  const { remoteToLocal } = await loadCore();
  const mapper = new LineMapper(
    (text) => remoteToLocal(text, mappings.current),
    (text) => ctx.output.write(text),
  );
  const cap = new OutputCap(defaultMaxOutputBytes);
  let streamed = false;
  let result: CommandLineCodeResult | undefined;
  try {
    result = await run((chunk) => {
      streamed = true;
      const shown = cap.admit(chunk);
      if (shown) {
        mapper.write(shown.text);
      }
    });
    return result;
  } finally {
    cap.finish().forEach((chunk) => mapper.write(chunk.text));
    if (!streamed && result?.output) {
      mapper.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
    }
    mapper.flush();
  }
}

async function execute(
  ctx: Ctx,
  executor: PodCommandLineCodeExecutor,
  request: RunRequest,
  sync: { project: ProjectFolder; result: SyncResult } | undefined,
  options: {
    signal: AbortSignal;
    onOutput: (chunk: OutputChunk) => void;
    onPathMappings: (mappings: readonly PathMapping[]) => void;
  },
): Promise<CommandLineCodeResult> {
  const origin = request.origin;
  const block = [{ language: request.language, code: request.code }];
  if (!sync) {
    return executor.executeCodeBlocks(block, options);
  }
  const root = sync.project.root;
  if (!origin) {
    return executor.executeCodeBlocks(block, { ...options, cwd: root, importRoots: [root] });
  }
  const asBlock = () =>
    executor.executeCodeBlocks(block, {
      ...options,
      cwd: root,
      importRoots: [root],
      source: { localFile: origin.uri.fsPath, startLine: origin.startLine },
    });
  if (!origin.wholeFile) {
    return asBlock();
  }
  const name = vscode.workspace.asRelativePath(origin.uri);
  // A copy an earlier sync sent may still be in the pod: it must not run in the file's stead.
  const skipped = skippedReason(sync.project, origin.uri.fsPath, sync.result);
  if (skipped) {
    throw new Error(`${name} is not synced to the pod (${skipped}), so it was not run`);
  }
  const settings = ctx.settingsFor(origin.uri);
  const ran = await executor.runFile(origin.uri.fsPath, {
    ...options,
    cwd: settings.runFile.cwd,
    root: sync.project.folder.uri.fsPath,
  });
  // The executor's own words when the file is missing from the pod (nothing ran).
  if (ran.exitCode === 0 || !ran.output.includes(`${origin.uri.fsPath} is not in the pod (`)) {
    return ran;
  }
  // Ignored: say by what, and run the editor's text from the root (the file's own folder may be
  // left out of the pod too).
  const reason = ignoredReason(sync.project, origin.uri.fsPath, settings.sync.exclude);
  ctx.output.write(`  ${name} is not synced (${reason}): ran its text\n`);
  return asBlock();
}

/** The selection (or the current line when nothing is selected) or the whole file, and its language. */
export function codeFromEditor(
  editor: vscode.TextEditor,
  wholeFile: boolean,
): RunRequest | undefined {
  const language = languageOf[editor.document.languageId];
  if (!language) {
    return undefined;
  }
  const document = editor.document;
  const name = vscode.workspace.asRelativePath(document.uri);
  if (wholeFile) {
    return {
      language,
      code: document.getText(),
      label: name,
      origin: { uri: document.uri, startLine: 1, wholeFile },
    };
  }
  const selection = editor.selection;
  const range = selection.isEmpty ? document.lineAt(selection.active.line).range : selection;
  return {
    language,
    code: document.getText(range),
    label: `${name}:${range.start.line + 1}`,
    origin: { uri: document.uri, startLine: range.start.line + 1, wholeFile },
  };
}
