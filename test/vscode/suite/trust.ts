import * as vscode from 'vscode';
import { check, type HostFeature } from './host.ts';

export const trustFeature: HostFeature = {
  feature: 'what a workspace cannot set',
  tests: [
    {
      name: "the workspace's podRunner.kubeconfig is ignored: the machine's is used, and it cannot be written there",
      run: async () => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const kubeconfig = configuration.get<string>('kubeconfig') ?? '';
        // The test workspace names a kubeconfig of its own (which does not exist).
        check(
          !kubeconfig.endsWith('kubeconfig-chosen-by-the-workspace'),
          `the workspace chose the kubeconfig: ${kubeconfig}`,
        );
        const written = await configuration
          .update('kubeconfig', 'from-the-workspace', vscode.ConfigurationTarget.Workspace)
          .then(
            () => true,
            () => false,
          );
        check(!written, 'the kubeconfig was written to the workspace settings');
        check(configuration.get<string>('kubeconfig') === kubeconfig, 'the kubeconfig changed');
      },
    },
  ],
};
