import * as vscode from 'vscode';
import { cellText, check, runCell, waitFor, type HostFeature } from './host.ts';

const profileName = 'host-small';
const profiles = {
  [profileName]: {
    env: { PROFILE_MARK: profileName },
    volumes: [{ claimName: 'profile-data', mountPath: '/data' }],
    resources: { cpu: '1', memory: '1Gi' },
  },
};

const configuration = () => vscode.workspace.getConfiguration('podRunner');

export const profilesFeature: HostFeature = {
  feature: 'profiles',
  tests: [
    {
      name: "a profile's kernel is in the notebook kernel picker and runs in a pod of that profile",
      run: async (api) => {
        await api.stopPods();
        await configuration().update('profiles', profiles, vscode.ConfigurationTarget.Workspace);
        const notebook = await vscode.workspace.openNotebookDocument(
          'jupyter-notebook',
          new vscode.NotebookData([
            new vscode.NotebookCellData(
              vscode.NotebookCellKind.Code,
              "import os\nopen('/data/from-kernel.txt', 'w').write(os.environ['PROFILE_MARK'])\nprint('mark', os.environ['PROFILE_MARK'])",
              'python',
            ),
            new vscode.NotebookCellData(
              vscode.NotebookCellKind.Code,
              "import os\nprint('now', os.environ['PROFILE_MARK'])",
              'python',
            ),
          ]),
        );
        await vscode.window.showNotebookDocument(notebook);
        await vscode.commands.executeCommand('notebook.selectKernel', {
          id: `pod-runner-kernel-profile-${profileName}`,
          extension: 'pod-runner.pod-runner',
        });
        await runCell(notebook, 0);
        const output = cellText(notebook, 0);
        check(output.includes(`mark ${profileName}`), `the profile's env in the kernel: ${output}`);
        check(
          api.kernelPodName() === undefined,
          "the profile's kernel has its own gateway pod, not the window's default one",
        );
        // A changed profile replaces its (idle) gateway pod: the next cell runs in the new set-up.
        const changed = {
          [profileName]: { ...profiles[profileName], env: { PROFILE_MARK: 'v2' } },
        };
        await configuration().update('profiles', changed, vscode.ConfigurationTarget.Workspace);
        await runCell(notebook, 1);
        check(
          cellText(notebook, 1).includes('now v2'),
          `after the change: ${cellText(notebook, 1)}`,
        );
        await configuration().update('profiles', profiles, vscode.ConfigurationTarget.Workspace);
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      },
    },
    {
      name: 'Select Profile builds the executor pod from the profile and the status bar names it',
      run: async (api) => {
        try {
          check(api.status().profile === undefined, 'no profile before one is selected');
          await vscode.commands.executeCommand('podRunner.selectProfile', profileName);
          const status = api.status();
          check(
            status.profile === profileName && status.text.includes(`Pod Runner (${profileName})`),
            `status bar: ${status.text}`,
          );
          const result = await api.runCode(
            'python',
            "import os\nprint(os.environ['PROFILE_MARK'], open('/data/from-kernel.txt').read())",
          );
          check(
            result.output.trim() === `${profileName} ${profileName}`,
            `the executor pod has the profile's env and its claim (written by the kernel): ${result.output}`,
          );
          await api.stopPods();
          await vscode.commands.executeCommand('podRunner.selectProfile', '');
          check(api.status().profile === undefined, 'back to no profile');
          check(
            api.status().text.includes('Pod Runner: no pods'),
            `status bar: ${api.status().text}`,
          );
          await vscode.commands.executeCommand('podRunner.selectProfile', profileName);
          await configuration().update('profiles', undefined, vscode.ConfigurationTarget.Workspace);
          await waitFor(
            () => api.status().profile === undefined,
            10_000,
            'the removed profile to be dropped',
          );
        } finally {
          await api.stopPods();
          await configuration().update('profiles', undefined, vscode.ConfigurationTarget.Workspace);
        }
      },
    },
    {
      name: 'an invalid profile names its key and the expected type',
      run: async (api) => {
        await configuration().update(
          'profiles',
          { broken: { resources: { 'nvidia.com/gpu': 'one' } } },
          vscode.ConfigurationTarget.Workspace,
        );
        try {
          const failure = await api.runCode('bash', 'true').then(
            () => 'ran',
            (error: Error) => error.message,
          );
          check(
            failure.includes('podRunner.profiles.broken.resources.nvidia.com/gpu') &&
              failure.includes('expected a whole number of devices, got the string "one"'),
            `the error: ${failure}`,
          );
        } finally {
          await configuration().update('profiles', undefined, vscode.ConfigurationTarget.Workspace);
          // The failed start leaves the executor in the error state: back to none.
          await api.stopPods();
        }
      },
    },
  ],
};
