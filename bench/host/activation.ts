import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';

/**
 * Runs inside the extension host: times the extension's activation (loading its bundle and
 * running `activate`) and appends it as a JSON line to POD_RUNNER_BENCH_RESULT.
 */
export async function run(): Promise<void> {
  const extension = vscode.extensions.getExtension('pod-runner.pod-runner');
  if (!extension) {
    throw new Error('the extension is not installed in this host');
  }
  const wasActive = extension.isActive;
  const started = performance.now();
  await extension.activate();
  const activationMs = performance.now() - started;
  appendFileSync(
    process.env.POD_RUNNER_BENCH_RESULT ?? '',
    `${JSON.stringify({ wasActive, activationMs })}\n`,
  );
}
