import * as vscode from 'vscode';
import { listManagedPods } from '../../../src/core/index.ts';
import { gatewayKernelListing } from './gatewayKernels.ts';
import {
  cellText,
  check,
  eventually,
  openKernelNotebook,
  runCell,
  type HostFeature,
} from './host.ts';

/** The gateway's kernels as it reports them, and the end of its log: why it did not stop. */
async function gatewayDiagnosis(kubeconfig: string, name: string): Promise<string> {
  const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const core = config.makeApiClient(CoreV1Api);
  const namespace = config.getContextObject(config.getCurrentContext())?.namespace ?? 'default';
  const kernels = await gatewayKernelListing(kubeconfig, name).then(
    (listing) => listing,
    (error: unknown) => `(unreadable: ${String(error)})`,
  );
  const log = await core
    .readNamespacedPodLog({ name, namespace, tailLines: 60 })
    .catch((error: unknown) => `(unreadable: ${String(error)})`);
  return `its kernels: ${kernels}\nits log:\n${log}`;
}

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
    {
      name: 'an idle kernel pod stops in the cluster by itself; the next cell runs on a fresh kernel pod, says why first, and the stopped pod is deleted',
      run: async (api) => {
        await api.stopPods();
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const kubeconfig = configuration.get<string>('kubeconfig')!;
        const workspace = vscode.ConfigurationTarget.Workspace;
        // Ten seconds: longer than a kernel's start on a busy machine.
        await configuration.update('idleTimeoutMinutes', 10 / 60, workspace);
        try {
          const notebook = await openKernelNotebook([
            'x = 1',
            'print(globals().get("x", "fresh"))',
          ]);
          await runCell(notebook, 0);
          check(notebook.cellAt(0).executionSummary?.success, 'x = 1 ran');
          const stopped = api.kernelPodName();
          check(stopped, 'the kernel pod runs');
          await eventually(
            async () =>
              (await listManagedPods({ kubeconfig })).find((pod) => pod.name === stopped)?.phase ===
                'Succeeded' || undefined,
            90_000,
            'the idle kernel pod to stop by itself',
          ).catch(async (error: Error) => {
            throw new Error(`${error.message}; ${await gatewayDiagnosis(kubeconfig, stopped)}`);
          });
          await runCell(notebook, 1);
          const fresh = api.kernelPodName();
          check(fresh && fresh !== stopped, `a fresh pod runs the next cell, not ${String(fresh)}`);
          check(
            notebook.cellAt(1).executionSummary?.success === true &&
              cellText(notebook, 1) ===
                "Pod Runner: the pod stopped after 10 idle seconds; this cell runs on a new kernel pod, without the old one's variables.\nfresh\n",
            `a fresh kernel, and why: ${JSON.stringify(cellText(notebook, 1))}`,
          );
          const left = (await listManagedPods({ kubeconfig })).map((pod) => pod.name);
          check(!left.includes(stopped), `the stopped pod is deleted: ${left.join(', ')}`);
        } finally {
          await api.stopPods();
          await configuration.update('idleTimeoutMinutes', undefined, workspace);
          await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
        }
      },
    },
  ],
};
