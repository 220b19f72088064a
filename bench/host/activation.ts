import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';

async function timeActivation(id: string): Promise<{ wasActive: boolean; ms: number }> {
  const extension = vscode.extensions.getExtension(id);
  if (!extension) {
    throw new Error(`${id} is not installed in this host`);
  }
  const wasActive = extension.isActive;
  const started = performance.now();
  await extension.activate();
  return { wasActive, ms: performance.now() - started };
}

/**
 * Runs inside the extension host: after a warm-up activation, times the activation of an empty
 * extension (what VS Code's own
 * activation machinery costs: context, storage, API object) and then Pod Runner's (that plus
 * loading its bundle and running `activate`), and appends both as a JSON line to
 * POD_RUNNER_BENCH_RESULT.
 */
export async function run(): Promise<void> {
  await timeActivation('bench.warmup-extension');
  const empty = await timeActivation('bench.empty-extension');
  const ours = await timeActivation('pod-runner.pod-runner');
  appendFileSync(process.env.POD_RUNNER_BENCH_RESULT ?? '', `${JSON.stringify({ empty, ours })}\n`);
}
