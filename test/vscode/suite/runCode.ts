import * as vscode from 'vscode';
import { listManagedPods } from '../../../src/core/index.ts';
import { check, withTimeout, waitFor, type HostFeature } from './host.ts';

export const runCodeFeature: HostFeature = {
  feature: 'running code in the executor pod',
  tests: [
    {
      name: 'Run Selection streams the output into the Pod Runner: Output channel',
      run: async (api) => {
        const document = await vscode.workspace.openTextDocument({
          language: 'python',
          content:
            "import sys\nprint('from the pod', sys.version_info[0])\nprint('not selected')\n",
        });
        const editor = await vscode.window.showTextDocument(document);
        editor.selection = new vscode.Selection(0, 0, 1, 100);
        let written = '';
        const subscription = api.onDidWriteOutput((text) => (written += text));
        try {
          await withTimeout(
            vscode.commands.executeCommand('podRunner.runSelection'),
            120_000,
            'Run Selection',
          );
        } finally {
          subscription.dispose();
        }
        check(
          written.includes('from the pod 3\n'),
          `output channel got: ${JSON.stringify(written)}`,
        );
        check(!written.includes('not selected'), 'only the selection ran');
        check(
          /▶ .* · python · pod default\/autogen-code-exec-/.test(written),
          `header missing: ${written}`,
        );
        check(/■ exit code 0 · [\d.]+ s/.test(written), `footer missing: ${written}`);
      },
    },
    {
      name: 'the API runs code in the same pod and reports exit codes',
      run: async (api) => {
        const first = api.executorPodName();
        const result = await api.runCode('bash', 'echo "$(hostname)"; exit 3');
        check(result.exitCode === 3, `exit code ${result.exitCode}`);
        check(
          result.output === `${first}\n`,
          `the run reuses the pod: ${result.output} vs ${first}`,
        );
      },
    },
    {
      name: 'the status bar follows the executor pod: ready, busy, ready, none',
      run: async (api) => {
        check(api.status().executor === 'ready', `state ${api.status().executor}`);
        check(
          api.status().text.includes('Pod Runner: executor ready'),
          `text ${api.status().text}`,
        );
        const running = api.runCode('bash', 'sleep 2; echo done');
        await waitFor(() => api.status().executor === 'busy', 20_000, 'the busy state');
        check(api.status().text.includes('Pod Runner: executor busy'), `text ${api.status().text}`);
        const result = await running;
        check(result.output === 'done\n', `output ${result.output}`);
        check(api.status().executor === 'ready', `state after the run ${api.status().executor}`);
        await api.stopPods();
        check(api.status().text.includes('Pod Runner: no pods'), `text ${api.status().text}`);
      },
    },
    {
      name: 'Restart Executor Pod replaces the pod through the session: a new pod, the old one deleted',
      run: async (api) => {
        await api.runCode('bash', 'true');
        const first = api.executorPodName();
        await withTimeout(
          vscode.commands.executeCommand('podRunner.restartExecutorPod'),
          120_000,
          'the restart',
        );
        const second = api.executorPodName();
        check(second !== undefined && second !== first, `pods: ${first} then ${second}`);
        check(api.status().executor === 'ready', `state ${api.status().executor}`);
        const result = await api.runCode('bash', 'hostname');
        check(result.output === `${second}\n`, `the run uses the new pod: ${result.output}`);
        const kubeconfig = vscode.workspace
          .getConfiguration('podRunner')
          .get<string>('kubeconfig')!;
        const names = (await listManagedPods({ kubeconfig })).map((pod) => pod.name);
        check(!names.includes(first!), `the old pod is still there: ${names.join(', ')}`);
      },
    },
    {
      name: 'stopping deletes the executor pod',
      run: async (api) => {
        await api.runCode('python', 'print(1)');
        check(api.executorPodName() !== undefined, 'a pod was started');
        await api.stopPods();
        check(api.executorPodName() === undefined, 'the pod is gone from the session');
      },
    },
  ],
};
