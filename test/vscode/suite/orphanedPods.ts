import * as vscode from 'vscode';
import { listManagedPods, PodCommandLineCodeExecutor } from '../../../src/core/index.ts';
import { windowPodLabels } from '../../../src/extension/windowIdentity.ts';
import { check, eventually, withTimeout, type HostFeature } from './host.ts';

interface ShownPick {
  title: string | undefined;
  items: vscode.QuickPickItem[];
}

/**
 * Answers the extension's quick picks in turn with `answers` (labels to pick; undefined: Escape)
 * and records what each showed. The test runs in the extension's own host and API object.
 */
async function withQuickPickAnswers(
  answers: (string[] | undefined)[],
  body: () => Promise<unknown>,
): Promise<ShownPick[]> {
  const shown: ShownPick[] = [];
  const original = vscode.window.showQuickPick;
  const answering = (items: unknown, options?: vscode.QuickPickOptions) => {
    const list = items as vscode.QuickPickItem[];
    shown.push({ title: options?.title, items: list });
    const answer = answers[shown.length - 1];
    return Promise.resolve(answer && list.filter((item) => answer.includes(item.label)));
  };
  vscode.window.showQuickPick = answering as typeof vscode.window.showQuickPick;
  try {
    await body();
  } finally {
    vscode.window.showQuickPick = original;
  }
  return shown;
}

const showOthers = '$(warning) Show pods of other clients…';

export const orphanedPodsFeature: HostFeature = {
  feature: 'Delete Orphaned Pods',
  tests: [
    {
      name: "only this workspace's leftovers are offered, none pre-selected; other clients' pods only when asked for",
      run: async (api) => {
        const kubeconfig = vscode.workspace
          .getConfiguration('podRunner')
          .get<string>('kubeconfig')!;
        const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
        const leftover = new PodCommandLineCodeExecutor({
          kubeconfig,
          labels: windowPodLabels(vscode.env.machineId, folders, 'a killed window'),
        });
        const colleague = new PodCommandLineCodeExecutor({
          kubeconfig,
          labels: windowPodLabels('a colleague', ['their workspace'], 'their window'),
        });
        const reap = () =>
          withTimeout(
            vscode.commands.executeCommand('podRunner.reapOrphans'),
            60_000,
            'Delete Orphaned Pods',
          );
        const names = async () => (await listManagedPods({ kubeconfig })).map((pod) => pod.name);
        try {
          await Promise.all([leftover.start(), colleague.start(), api.runCode('bash', 'true')]);
          const own = api.executorPodName()!;
          // Enter on the first list as shown: nothing is deleted.
          const first = await withQuickPickAnswers([[]], reap);
          const offered = first[0]?.items.map((item) => item.label);
          check(
            JSON.stringify(offered) === JSON.stringify([leftover.podName, showOthers]),
            `offered: ${JSON.stringify(offered)}`,
          );
          check(
            first[0]?.items.every((item) => !item.picked),
            'an item was pre-selected',
          );
          check(first.length === 1, `picks shown: ${first.length}`);
          check((await names()).includes(leftover.podName), 'Enter on nothing deleted a pod');
          // Asking for the others shows the colleague's pod, not pre-selected; Escape keeps it.
          const second = await withQuickPickAnswers([[showOthers], undefined], reap);
          const others = second[1]?.items;
          check(
            others?.length === 1 && others[0]?.label === colleague.podName && !others[0].picked,
            `other clients' pods: ${JSON.stringify(others)}`,
          );
          // Picking the leftover deletes it alone.
          await withQuickPickAnswers([[leftover.podName]], reap);
          // Deletion is graceful: the pod goes once its container has stopped.
          const remaining = await eventually(
            async () => {
              const left = await names();
              return left.includes(leftover.podName) ? undefined : left;
            },
            30_000,
            'the picked leftover to be deleted',
          );
          check(remaining.includes(colleague.podName), "the colleague's pod was deleted");
          check(remaining.includes(own), "this window's pod was deleted");
        } finally {
          await Promise.all([leftover.stop(), colleague.stop()]);
        }
      },
    },
  ],
};
