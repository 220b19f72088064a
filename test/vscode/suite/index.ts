import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { PodRunnerApi } from '../../../src/extension/api.ts';
import { agentToolFeature } from './agentTool.ts';
import { bigOutputFeature } from './bigOutput.ts';
import { commandsFeature } from './commands.ts';
import { downloadFeature } from './download.ts';
import { executorCleanupFeature } from './executorCleanup.ts';
import { check, type HostFeature } from './host.ts';
import { idleStopFeature } from './idleStop.ts';
import { interactiveEdgesFeature } from './interactiveEdges.ts';
import { interactiveWindowFeature } from './interactiveWindow.ts';
import { kernelNotebookFeature } from './kernelNotebook.ts';
import { kernelStopFeature } from './kernelStop.ts';
import { leftoverPodsFeature } from './leftoverPods.ts';
import { orphanedPodsFeature } from './orphanedPods.ts';
import { outageFeature } from './outage.ts';
import { podSessionFeature } from './podSession.ts';
import { podShellFeature } from './podShell.ts';
import { profilesFeature } from './profiles.ts';
import { reattachFeature } from './reattach.ts';
import { runCodeFeature } from './runCode.ts';
import { settingsFeature } from './settings.ts';
import { statelessNotebookFeature } from './statelessNotebook.ts';
import { syncFeature } from './sync.ts';
import { tracebacksFeature } from './tracebacks.ts';
import { trustFeature } from './trust.ts';
import { windowCloseFeature } from './windowClose.ts';

/** In order: each feature's tests may start from the pods the ones before left running. */
const features: HostFeature[] = [
  commandsFeature,
  trustFeature,
  runCodeFeature,
  podShellFeature,
  settingsFeature,
  statelessNotebookFeature,
  bigOutputFeature,
  syncFeature,
  tracebacksFeature,
  downloadFeature,
  kernelNotebookFeature,
  interactiveWindowFeature,
  interactiveEdgesFeature,
  agentToolFeature,
  kernelStopFeature,
  outageFeature,
  podSessionFeature,
  executorCleanupFeature,
  idleStopFeature,
  windowCloseFeature,
  leftoverPodsFeature,
  orphanedPodsFeature,
  profilesFeature,
  // Last: it deactivates the extension, so the API the others use ends with it.
  reattachFeature,
];

/** Only the features named in POD_RUNNER_HOST_FEATURES (comma-separated), when it is set. */
function selectedFeatures(): HostFeature[] {
  const names = (process.env.POD_RUNNER_HOST_FEATURES ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  return names.length ? features.filter(({ feature }) => names.includes(feature)) : features;
}

/**
 * The extension tests' entry point, called by VS Code's extension host (`--extensionTestsPath`).
 * Runs every feature's tests one after another and appends each result as a JSON line to the
 * file named by POD_RUNNER_TEST_RESULTS (after a first line with the number planned), which the
 * node:test side reports; throws when any failed.
 */
export async function run(): Promise<void> {
  const results = process.env.POD_RUNNER_TEST_RESULTS;
  if (!results) {
    throw new Error('POD_RUNNER_TEST_RESULTS is not set');
  }
  const extension = vscode.extensions.getExtension<PodRunnerApi>('pod-runner.pod-runner');
  check(extension, 'the extension is not installed in this host');
  const api = await extension.activate();
  // The plan first, so the reporting side can tell a test that never reported from one that passed.
  const selected = selectedFeatures();
  const planned = selected.reduce((count, { tests }) => count + tests.length, 0);
  appendFileSync(results, `${JSON.stringify({ planned })}\n`);
  let failed = 0;
  for (const { feature, tests } of selected) {
    for (const test of tests) {
      const name = `${feature}: ${test.name}`;
      const started = Date.now();
      let error: string | undefined;
      try {
        await test.run(api);
      } catch (failure) {
        failed++;
        error = (failure as Error).stack ?? String(failure);
      }
      const ms = Date.now() - started;
      appendFileSync(results, `${JSON.stringify({ name, ok: !error, ms, error })}\n`);
    }
  }
  await api.stopPods().catch(() => undefined);
  if (failed > 0) {
    throw new Error(`${failed} extension host test(s) failed`);
  }
}
