import * as vscode from 'vscode';
import { listManagedPods, OptionError, silentLogger } from '../../../src/core/index.ts';
import { readCleanupSettings, readSettings } from '../../../src/extension/config.ts';
import { ExecutorSession } from '../../../src/extension/executorSession.ts';
import type { KeptPods } from '../../../src/extension/keptPods.ts';
import type { LeftoverPods } from '../../../src/extension/leftoverPods.ts';
import { check, eventually, withTimeout, type HostFeature } from './host.ts';

const kubeconfig = () => vscode.workspace.getConfiguration('podRunner').get<string>('kubeconfig')!;
const executorPods = async () =>
  (await listManagedPods({ kubeconfig: kubeconfig() })).filter((pod) =>
    pod.name.startsWith('autogen-code-exec-'),
  );

/** Polls until no executor pod is left in the cluster (their deletion is graceful). */
const noExecutorPodLeft = () =>
  eventually(
    async () => ((await executorPods()).length === 0 ? true : undefined),
    30_000,
    'the executor pods to be deleted',
  );

/**
 * Runs `body` with an executor pod spec whose container never becomes ready, so the pod stays
 * starting: what the test does then lands in the start every time. `running` resolves with the
 * pod's name once its container runs.
 */
async function withExecutorStuckStarting(
  api: Parameters<HostFeature['tests'][number]['run']>[0],
  body: (running: () => Promise<string>) => Promise<void>,
): Promise<void> {
  await api.stopPods();
  const configuration = vscode.workspace.getConfiguration('podRunner');
  const neverReady = {
    spec: {
      containers: [
        {
          name: 'autogen-executor',
          image: 'python:3-slim',
          readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 },
        },
      ],
    },
  };
  await configuration.update('podSpec', neverReady, vscode.ConfigurationTarget.Workspace);
  const running = () =>
    eventually(
      async () => (await executorPods()).find((pod) => pod.phase === 'Running')?.name,
      60_000,
      'the executor container to run',
    );
  try {
    await body(running);
  } finally {
    await api.stopPods();
    await configuration.update('podSpec', undefined, vscode.ConfigurationTarget.Workspace);
  }
}

export const executorCleanupFeature: HostFeature = {
  feature: 'stopping and deleting the executor pod',
  tests: [
    {
      name: "Stop Executor Pod during the pod's start abandons the start and leaves no pod",
      run: (api) =>
        withExecutorStuckStarting(api, async (running) => {
          const starting = vscode.commands.executeCommand('podRunner.startExecutorPod');
          await running();
          check(api.status().executor === 'starting', `state ${api.status().executor}`);
          await withTimeout(
            vscode.commands.executeCommand('podRunner.stopExecutorPod'),
            30_000,
            'Stop Executor Pod',
          );
          await withTimeout(starting, 30_000, 'the abandoned start to end');
          check(api.status().executor === 'none', `state ${api.status().executor}`);
          check(api.executorPodName() === undefined, `pod ${api.executorPodName()}`);
          await noExecutorPodLeft();
        }),
    },
    {
      name: 'a cluster setting changed during the start abandons the start and leaves no pod',
      run: (api) =>
        withExecutorStuckStarting(api, async (running) => {
          const starting = api.runCode('bash', 'true').then(
            () => 'ran',
            (error: Error) => error.name,
          );
          await running();
          const configuration = vscode.workspace.getConfiguration('podRunner');
          await configuration.update(
            'labels',
            { changed: 'during-start' },
            vscode.ConfigurationTarget.Workspace,
          );
          try {
            const outcome = await withTimeout(starting, 30_000, 'the abandoned start to end');
            check(outcome === 'AbortError', `the run waiting for the pod: ${outcome}`);
            await noExecutorPodLeft();
            check(api.status().executor === 'none', `state ${api.status().executor}`);
          } finally {
            await configuration.update('labels', undefined, vscode.ConfigurationTarget.Workspace);
          }
        }),
    },
    {
      name: 'an invalid setting does not keep the executor pod from being deleted when the window closes',
      run: async () => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const timeout = configuration.inspect<number>('timeout')?.workspaceValue;
        // A session as the window's, stopped as closing the window stops it (not forced).
        const session = new ExecutorSession({
          get settings() {
            return readSettings();
          },
          logger: silentLogger,
          podLabels: {},
          leftovers: { afterPodStart: () => undefined } as unknown as LeftoverPods,
          profiles: { profileFor: () => undefined },
          keptPods: {
            podFor: (_role: string, build: () => unknown) => Promise.resolve(build()),
            recordPod: () => Promise.resolve(),
            forgetPod: () => Promise.resolve(),
          } as unknown as KeptPods,
        });
        try {
          const executor = await session.ensureStarted();
          await configuration.update('timeout', 0, vscode.ConfigurationTarget.Workspace);
          check(
            (() => {
              try {
                readSettings();
                return false;
              } catch (error) {
                return error instanceof OptionError;
              }
            })(),
            'timeout 0 is an invalid setting',
          );
          check(readCleanupSettings().cleanupPolicy === 'deleteOnClose', 'the close deletes');
          await withTimeout(session.stop(), 30_000, 'the stop');
          const names = (await executorPods()).map((pod) => pod.name);
          check(!names.includes(executor.podName), `the pod is left: ${executor.podName}`);
        } finally {
          await configuration.update('timeout', timeout, vscode.ConfigurationTarget.Workspace);
          await session.stop(true);
          session.dispose();
        }
      },
    },
  ],
};
