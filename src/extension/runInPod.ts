import * as vscode from 'vscode';
import type { CommandLineCodeResult } from '../core/index.ts';
import { defaultMaxOutputBytes } from '../core/outputCollector.ts';
import { signalFromToken } from './cancellation.ts';
import type { Ctx } from './ctx.ts';
import { OutputCap } from './outputCap.ts';

const languageOf: Record<string, string> = { python: 'python', shellscript: 'bash' };

/**
 * Runs code in the executor pod with a cancellable progress notification and its output streamed
 * to the output channel, capped as the executor caps the result.
 */
export async function runInPod(
  ctx: Ctx,
  language: string,
  code: string,
  source: string,
  signal?: AbortSignal,
): Promise<CommandLineCodeResult> {
  const executor = await ctx.executor.ensureStarted();
  const context = executor.context ?? '(unknown)';
  ctx.output.show();
  ctx.output.header(
    { context, namespace: executor.namespace, pod: executor.podName },
    language,
    source,
  );
  const startedAt = Date.now();
  const cap = new OutputCap(defaultMaxOutputBytes);
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Pod Runner: running ${source}`,
        cancellable: true,
      },
      async (_progress, token) => {
        const cancellation = signalFromToken(token);
        try {
          const combined = signal
            ? AbortSignal.any([signal, cancellation.signal])
            : cancellation.signal;
          return await ctx.executor.run([{ language, code }], {
            signal: combined,
            onOutput: (chunk) => {
              const shown = cap.admit(chunk);
              if (shown) {
                ctx.output.chunk(shown);
              }
            },
          });
        } finally {
          cancellation.dispose();
          cap.finish().forEach((chunk) => ctx.output.chunk(chunk));
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

/** The selection (or the current line when nothing is selected) or the whole file, and its language. */
export function codeFromEditor(
  editor: vscode.TextEditor,
  wholeFile: boolean,
): { language: string; code: string; source: string } | undefined {
  const language = languageOf[editor.document.languageId];
  if (!language) {
    return undefined;
  }
  const name = vscode.workspace.asRelativePath(editor.document.uri);
  if (wholeFile) {
    return { language, code: editor.document.getText(), source: name };
  }
  const selection = editor.selection;
  const range = selection.isEmpty ? editor.document.lineAt(selection.active.line).range : selection;
  return {
    language,
    code: editor.document.getText(range),
    source: `${name}:${range.start.line + 1}`,
  };
}
