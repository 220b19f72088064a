import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { check, withTimeout, waitFor, type HostFeature } from './host.ts';

export const settingsFeature: HostFeature = {
  feature: 'settings and clusters',
  tests: [
    {
      name: 'changing a connection setting while code runs asks, then replaces the pod',
      run: async (api) => {
        await api.runCode('bash', 'true');
        const first = api.executorPodName();
        const running = api.runCode('bash', 'sleep 30; echo finished').then(
          (result) => result.output,
          (error: Error) => error.message,
        );
        await waitFor(() => api.status().executor === 'busy', 20_000, 'the busy state');
        const configuration = vscode.workspace.getConfiguration('podRunner');
        await configuration.update(
          'labels',
          { team: 'tests' },
          vscode.ConfigurationTarget.Workspace,
        );
        try {
          await new Promise((done) => setTimeout(done, 1500));
          check(api.status().executor === 'busy', 'nothing is stopped before the answer');
          await vscode.commands.executeCommand('notification.acceptPrimaryAction');
          const outcome = await withTimeout(running, 30_000, 'the interrupted run');
          check(!outcome.includes('finished'), `the running code was stopped: ${outcome}`);
          await waitFor(() => api.status().executor === 'none', 30_000, 'the pod to be removed');
          const next = await api.runCode('bash', 'hostname');
          check(next.output.trim() !== first, 'a new pod runs the next block');
        } finally {
          await configuration.update('labels', undefined, vscode.ConfigurationTarget.Workspace);
        }
      },
    },
    {
      name: 'Select Context stores the choice in settings and leaves the kubeconfig byte-identical',
      run: async () => {
        const kubeconfig = vscode.workspace
          .getConfiguration('podRunner')
          .get<string>('kubeconfig')!;
        const before = readFileSync(kubeconfig);
        const picking = vscode.commands.executeCommand('podRunner.selectContext');
        await new Promise((done) => setTimeout(done, 1500));
        await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        await withTimeout(picking, 10_000, 'Select Context');
        const chosen = vscode.workspace.getConfiguration('podRunner').get<string>('context');
        check(chosen === 'pod-runner-emulator-restricted', `context setting is ${String(chosen)}`);
        check(readFileSync(kubeconfig).equals(before), 'the kubeconfig file changed');
        await vscode.workspace
          .getConfiguration('podRunner')
          .update('context', undefined, vscode.ConfigurationTarget.Workspace);
      },
    },
    {
      name: 'an unreachable cluster is an error, not a hang',
      run: async (api) => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const original = configuration.get<string>('kubeconfig');
        await api.stopPods();
        await configuration.update(
          'kubeconfig',
          process.env.POD_RUNNER_UNREACHABLE_KUBECONFIG,
          vscode.ConfigurationTarget.Global,
        );
        try {
          const started = Date.now();
          let failure: Error | undefined;
          try {
            await withTimeout(
              api.runCode('python', 'print(1)'),
              60_000,
              'a run against an unreachable cluster',
            );
          } catch (error) {
            failure = error as Error;
          }
          check(
            failure && !/took more than/.test(failure.message),
            `expected a connection error, got ${String(failure?.message)}`,
          );
          check(Date.now() - started < 60_000, 'failed in time');
          check(api.status().executor === 'error', `state ${api.status().executor}`);
        } finally {
          await configuration.update('kubeconfig', original, vscode.ConfigurationTarget.Global);
        }
      },
    },
  ],
};
