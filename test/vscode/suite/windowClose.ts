import * as vscode from 'vscode';
import { listManagedPods, PodCommandLineCodeExecutor } from '../../../src/core/index.ts';
import { channelLogger } from '../../../src/extension/logging.ts';
import { check, type HostFeature } from './host.ts';

export const windowCloseFeature: HostFeature = {
  feature: 'closing the window',
  tests: [
    {
      name: 'a pod is deleted even when the log channel was closed first (VS Code disposes it on window close)',
      run: async () => {
        const channel = vscode.window.createOutputChannel('Pod Runner closing', { log: true });
        channel.dispose();
        let closedChannelThrows = false;
        try {
          channel.info('after close');
        } catch {
          closedChannelThrows = true;
        }
        check(closedChannelThrows, 'a closed log channel throws (what made the deletion fail)');
        const kubeconfig = vscode.workspace
          .getConfiguration('podRunner')
          .get<string>('kubeconfig')!;
        const executor = new PodCommandLineCodeExecutor({
          kubeconfig,
          logger: channelLogger(channel),
        });
        await executor.start();
        const names = async () => (await listManagedPods({ kubeconfig })).map((pod) => pod.name);
        check((await names()).includes(executor.podName), 'the pod was created');
        await executor.stop();
        check(
          !(await names()).includes(executor.podName),
          `the pod is still there: ${executor.podName}`,
        );
      },
    },
  ],
};
