import * as vscode from 'vscode';
import { listManagedPods } from '../../../src/core/index.ts';
import { check, eventually, type HostFeature } from './host.ts';

export const idleStopFeature: HostFeature = {
  feature: 'pods that stop when idle',
  tests: [
    {
      name: 'an idle executor pod stops in the cluster by itself; the next run deletes it and starts a fresh one',
      run: async (api) => {
        await api.stopPods();
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const kubeconfig = configuration.get<string>('kubeconfig')!;
        const workspace = vscode.ConfigurationTarget.Workspace;
        // Three seconds: the setting takes fractions of a minute.
        await configuration.update('idleTimeoutMinutes', 3 / 60, workspace);
        try {
          const first = await api.runCode('bash', 'hostname');
          const stopped = api.executorPodName();
          check(first.output === `${stopped}\n`, `first run: ${first.output}`);
          await eventually(
            async () =>
              (await listManagedPods({ kubeconfig })).find((pod) => pod.name === stopped)?.phase ===
                'Succeeded' || undefined,
            60_000,
            'the idle pod to stop by itself',
          );
          const second = await api.runCode('bash', 'hostname');
          const fresh = api.executorPodName();
          check(fresh !== stopped, `a fresh pod runs the next code, not ${String(fresh)}`);
          check(second.output === `${fresh}\n`, `second run: ${second.output}`);
          const left = (await listManagedPods({ kubeconfig })).map((pod) => pod.name);
          check(!left.includes(stopped!), `the stopped pod is deleted: ${left.join(', ')}`);
        } finally {
          await api.stopPods();
          await configuration.update('idleTimeoutMinutes', undefined, workspace);
        }
      },
    },
  ],
};
