import * as vscode from 'vscode';
import { listManagedPods, PodCommandLineCodeExecutor } from '../../../src/core/index.ts';
import { windowPodLabels } from '../../../src/extension/windowIdentity.ts';
import { check, type HostFeature } from './host.ts';

export const leftoverPodsFeature: HostFeature = {
  feature: 'pods left by earlier windows',
  tests: [
    {
      name: 'pods an earlier session of this workspace left are offered for deletion; others are not touched',
      run: async (api) => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const target = {
          kubeconfig: configuration.get<string>('kubeconfig')!,
          namespace: 'kube-system',
          ...(configuration.get<string>('context')
            ? { context: configuration.get<string>('context')! }
            : {}),
        };
        const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
        // A window on this workspace whose extension host was killed, and a client elsewhere.
        const leftover = new PodCommandLineCodeExecutor({
          ...target,
          labels: windowPodLabels(vscode.env.machineId, folders, 'a killed window'),
        });
        const foreign = new PodCommandLineCodeExecutor({
          ...target,
          labels: windowPodLabels('another machine', folders, 'its window'),
        });
        await Promise.all([leftover.start(), foreign.start()]);
        // A namespace this window has not used yet, so its first pod there triggers the check.
        await configuration.update(
          'namespace',
          'kube-system',
          vscode.ConfigurationTarget.Workspace,
        );
        try {
          await api.runCode('bash', 'true');
          const own = api.executorPodName();
          await new Promise((done) => setTimeout(done, 2000));
          await vscode.commands.executeCommand('notification.acceptPrimaryAction');
          const names = async () => (await listManagedPods(target)).map((pod) => pod.name);
          const deadline = Date.now() + 30_000;
          while ((await names()).includes(leftover.podName)) {
            check(Date.now() < deadline, 'the leftover pod was not deleted');
            await new Promise((done) => setTimeout(done, 250));
          }
          const remaining = await names();
          check(remaining.includes(foreign.podName), "another client's pod is kept");
          check(own !== undefined && remaining.includes(own), "this window's pod is kept");
        } finally {
          await configuration.update('namespace', undefined, vscode.ConfigurationTarget.Workspace);
          await api.stopPods();
          await Promise.all([leftover.stop(), foreign.stop()]);
        }
      },
    },
  ],
};
