import * as vscode from 'vscode';
import {
  defaultJupyterCommand,
  executorContainerName,
  listManagedPods,
  loadClusterTarget,
  PodExecClient,
} from '../../../src/core/index.ts';
import type { PodRunnerApi } from '../../../src/extension/api.ts';
import { check, eventually } from './host.ts';

/** The gateway pods in the cluster, and a way to let the one that waits go on starting. */
export interface GatewayGate {
  gatewayPods(): Promise<string[]>;
  runningPod(): Promise<string>;
  open(): Promise<void>;
}

/**
 * Runs `body` with a gateway command that waits for a file before it starts the server, so the
 * kernel pod stays "starting" until the test opens the gate: what the test does in that state
 * lands there every time.
 */
export async function withGatedGatewayStart(
  api: PodRunnerApi,
  body: (gate: GatewayGate) => Promise<void>,
): Promise<void> {
  await api.stopPods();
  const configuration = vscode.workspace.getConfiguration('podRunner');
  const kubeconfig = configuration.get<string>('kubeconfig')!;
  const gateFile = '/tmp/pod-runner-start-gate';
  const command = ['/bin/bash', '-c', `until [ -e ${gateFile} ]; do sleep 0.1; done; exec "$@"`];
  await configuration.update(
    'jupyterCommand',
    [...command, 'gated', ...defaultJupyterCommand],
    vscode.ConfigurationTarget.Workspace,
  );
  const gatewayPods = async () =>
    (await listManagedPods({ kubeconfig }))
      .filter((pod) => pod.name.startsWith('autogen-jupyter-'))
      .map((pod) => pod.name);
  const runningPod = () =>
    eventually(
      async () =>
        (await listManagedPods({ kubeconfig })).find(
          (pod) => pod.name.startsWith('autogen-jupyter-') && pod.phase === 'Running',
        )?.name,
      60_000,
      'the gateway container to run',
    );
  const touchGate = (pod: string) => {
    const target = loadClusterTarget({ kubeconfig });
    return new PodExecClient(target.kubeConfig).run({
      namespace: target.namespace,
      pod,
      container: executorContainerName,
      command: ['touch', gateFile],
    });
  };
  const open = async () => {
    const opened = await touchGate(await runningPod());
    check(opened.exitCode === 0, `opening the gate: exit code ${opened.exitCode}`);
  };
  try {
    await body({ gatewayPods, runningPod, open });
  } finally {
    // A failed test may leave a start waiting: let it go on, so that stopping cannot wait forever.
    for (const pod of await listManagedPods({ kubeconfig })) {
      if (pod.name.startsWith('autogen-jupyter-') && pod.phase === 'Running') {
        await touchGate(pod.name).catch(() => undefined);
      }
    }
    await configuration.update('jupyterCommand', undefined, vscode.ConfigurationTarget.Workspace);
    await api.stopPods();
  }
}
