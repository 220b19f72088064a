import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { listManagedPods } from '../../../src/core/index.ts';
import type { PodRunnerApi } from '../../../src/extension/api.ts';
import {
  cellText,
  check,
  eventually,
  openKernelNotebook,
  runCell,
  waitFor,
  type HostFeature,
} from './host.ts';
import { projectPath } from './project.ts';

/** The extension's own entry points, as the host loaded them (the same module instance). */
interface ExtensionMain {
  activate(context: vscode.ExtensionContext): PodRunnerApi;
  deactivate(): Promise<void>;
}

/** The part of the extension's workspace state this suite reads: each notebook's kernel. */
interface KeptState {
  kernels: Record<string, { kernelId: string }>;
}
const keptStateKey = 'podRunner.keptPods';

/** A workspace state that outlives one activation, as VS Code's does across a reload. */
class WorkspaceState implements vscode.Memento {
  private readonly values = new Map<string, unknown>();
  keys(): readonly string[] {
    return [...this.values.keys()];
  }
  get<T>(key: string, fallback?: T): T | undefined {
    return this.values.has(key) ? (this.values.get(key) as T) : fallback;
  }
  update(key: string, value: unknown): Thenable<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
}

function extensionMain(): ExtensionMain {
  const extension = vscode.extensions.getExtension('pod-runner.pod-runner');
  check(extension, 'the extension is not installed in this host');
  const main = String((extension.packageJSON as { main: string }).main);
  return createRequire(join(extension.extensionPath, 'package.json'))(
    join(extension.extensionPath, main),
  ) as ExtensionMain;
}

/**
 * A window reload as the extension sees it: deactivate (closing the window's pods as
 * cleanupPolicy says), then a fresh activation with the same workspace state.
 */
async function reload(main: ExtensionMain, state: WorkspaceState): Promise<PodRunnerApi> {
  await main.deactivate();
  return main.activate({
    subscriptions: [],
    workspaceState: state,
  } as unknown as vscode.ExtensionContext);
}

async function selectPodKernel(notebook: vscode.NotebookDocument): Promise<void> {
  await vscode.window.showNotebookDocument(notebook);
  await vscode.commands.executeCommand('notebook.selectKernel', {
    id: 'pod-runner-kernel',
    extension: 'pod-runner.pod-runner',
  });
}

/** Python that waits until the file `go` exists (another notebook creates it), then prints. */
function waitingCell(go: string): string {
  return [
    'import os, time',
    "print('waiting', flush=True)",
    `while not os.path.exists('${go}'):`,
    '    time.sleep(0.05)',
    `os.remove('${go}')`,
    "print('done')",
    'x * 2',
  ].join('\n');
}

export const reattachFeature: HostFeature = {
  feature: 'reattaching after a reload',
  tests: [
    {
      name: 'with cleanupPolicy keep, a reload keeps both pods (shown in the status bar at once) and reuses them, the notebook gets its own kernel back with x; a cell running across a reload ends in the next window with its output; another notebook gets a fresh kernel',
      run: async () => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const kubeconfig = configuration.get<string>('kubeconfig')!;
        const podNames = async () => (await listManagedPods({ kubeconfig })).map((p) => p.name);
        const main = extensionMain();
        const state = new WorkspaceState();
        const go = `/tmp/pod-runner-reattach-${Date.now()}`;
        let api = await reload(main, state);
        let gateway: string | undefined;
        let executor: string | undefined;
        await configuration.update('cleanupPolicy', 'keep', vscode.ConfigurationTarget.Workspace);
        try {
          const notebook = await openKernelNotebook(['x = 41', 'print(x + 1)', waitingCell(go)]);
          await runCell(notebook, 0);
          check(notebook.cellAt(0).executionSummary?.success, 'x = 41 ran');
          const kernelPod = api.kernelPodName();
          check(kernelPod, 'the kernel pod runs');
          gateway = kernelPod;
          await api.runCode('bash', `echo kept > ${go}-marker`);
          const executorPod = api.executorPodName();
          check(executorPod, 'the executor pod runs');
          executor = executorPod;

          api = await reload(main, state);
          const running = await podNames();
          check(running.includes(kernelPod) && running.includes(executorPod), 'both pods kept');
          const kept = await eventually(
            () => Promise.resolve(api.status().kept.length === 2 ? api.status() : undefined),
            30_000,
            'the status bar to show the kept pods',
          );
          check(
            kept.text.includes('executor kept') && kept.text.includes('kernel kept'),
            `status bar: ${kept.text}`,
          );
          check(api.kernelPodName() === undefined, 'nothing was started before first use');
          const marker = await api.runCode('bash', `cat ${go}-marker`);
          check(marker.output === 'kept\n', `the kept executor pod: ${marker.output}`);
          check(api.executorPodName() === executorPod, `reused: ${api.executorPodName()}`);
          await selectPodKernel(notebook);
          await runCell(notebook, 1);
          check(
            cellText(notebook, 1) === '42\n',
            `print(x + 1) after the reload: ${JSON.stringify(cellText(notebook, 1))}`,
          );
          check(api.kernelPodName() === gateway, `the kept pod was reused: ${api.kernelPodName()}`);
          check(api.status().kept.length === 0, 'no pod waits to be reused any more');

          // A cell still running at the next reload is shown running in the next window and
          // ends there with the output the server kept: another notebook, on a fresh kernel of
          // the kept pod, lets it end.
          await vscode.commands.executeCommand('notebook.cell.execute', {
            ranges: [{ start: 2, end: 3 }],
            document: notebook.uri,
          });
          await waitFor(() => cellText(notebook, 2) === 'waiting\n', 60_000, 'the cell to wait');
          const reloadedAt = Date.now();
          api = await reload(main, state);
          await selectPodKernel(notebook);
          const other = await openKernelNotebook([
            `open('${go}', 'w').close()\nprint(globals().get("x", "fresh"))`,
          ]);
          await runCell(other, 0);
          check(
            cellText(other, 0) === 'fresh\n',
            `another notebook shares no kernel: ${JSON.stringify(cellText(other, 0))}`,
          );
          await waitFor(
            () => (notebook.cellAt(2).executionSummary?.timing?.endTime ?? 0) >= reloadedAt,
            60_000,
            `the cell running during the reload to end (output: ${JSON.stringify(cellText(notebook, 2))})`,
          );
          check(
            notebook.cellAt(2).executionSummary?.success === true &&
              cellText(notebook, 2) === 'waiting\ndone\n82',
            `its output before the reload, then the rest: ${JSON.stringify(cellText(notebook, 2))}`,
          );
        } finally {
          await configuration.update(
            'cleanupPolicy',
            undefined,
            vscode.ConfigurationTarget.Workspace,
          );
          await api.stopPods();
          for (let open = 2; open > 0; open--) {
            await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
          }
        }
        const left = await podNames();
        check(
          !left.includes(String(gateway)) && !left.includes(String(executor)),
          `stopPods deleted the kept pods ${String(gateway)}, ${String(executor)}: ${left.join(', ')}`,
        );
      },
    },
    {
      name: 'a cell added above the running cell before a reload: the cell that ran gets the rest of its output, not the one now at its index',
      run: async () => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const main = extensionMain();
        const state = new WorkspaceState();
        const go = `/tmp/pod-runner-reattach-moved-${Date.now()}`;
        let api = await reload(main, state);
        await configuration.update('cleanupPolicy', 'keep', vscode.ConfigurationTarget.Workspace);
        try {
          const notebook = await openKernelNotebook(['x = 41', waitingCell(go)]);
          await runCell(notebook, 0);
          await vscode.commands.executeCommand('notebook.cell.execute', {
            ranges: [{ start: 1, end: 2 }],
            document: notebook.uri,
          });
          await waitFor(() => cellText(notebook, 1) === 'waiting\n', 60_000, 'the cell to wait');
          const edit = new vscode.WorkspaceEdit();
          edit.set(notebook.uri, [
            vscode.NotebookEdit.insertCells(0, [
              new vscode.NotebookCellData(vscode.NotebookCellKind.Code, '# a note', 'python'),
            ]),
          ]);
          check(await vscode.workspace.applyEdit(edit), 'a cell added at the top');
          const reloadedAt = Date.now();
          api = await reload(main, state);
          await selectPodKernel(notebook);
          const other = await openKernelNotebook([`open('${go}', 'w').close()`]);
          await runCell(other, 0);
          await waitFor(
            () => (notebook.cellAt(2).executionSummary?.timing?.endTime ?? 0) >= reloadedAt,
            60_000,
            `the moved cell to end (cells: ${[0, 1, 2].map((i) => JSON.stringify(cellText(notebook, i))).join(' | ')})`,
          );
          check(
            cellText(notebook, 2) === 'waiting\ndone\n82' && cellText(notebook, 1) === '',
            `the moved cell's output: ${JSON.stringify(cellText(notebook, 2))}, the cell now at its index: ${JSON.stringify(cellText(notebook, 1))}`,
          );
        } finally {
          await configuration.update(
            'cleanupPolicy',
            undefined,
            vscode.ConfigurationTarget.Workspace,
          );
          await api.stopPods();
          for (let open = 2; open > 0; open--) {
            await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
          }
        }
      },
    },
    {
      name: "workspace state that lost the notebooks' kernel records: each notebook gets its own kernel back from the gateway pod's record, variables intact",
      run: async () => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const main = extensionMain();
        const state = new WorkspaceState();
        let api = await reload(main, state);
        await configuration.update('cleanupPolicy', 'keep', vscode.ConfigurationTarget.Workspace);
        try {
          const first = await openKernelNotebook(['x = 41', 'print(x + 1)']);
          await runCell(first, 0);
          const second = await openKernelNotebook(["x = 'second'", 'print(x)']);
          await runCell(second, 0);
          const gateway = api.kernelPodName();
          check(gateway, 'the kernel pod runs');

          api = await reload(main, state);
          const kept = state.get<KeptState>(keptStateKey);
          check(kept && Object.keys(kept.kernels).length === 2, 'both kernels were recorded');
          await state.update(keptStateKey, { ...kept, kernels: {} });
          await selectPodKernel(first);
          await runCell(first, 1);
          check(
            cellText(first, 1) === '42\n',
            `print(x + 1) on the kernel the pod recorded: ${JSON.stringify(cellText(first, 1))}`,
          );
          await selectPodKernel(second);
          await runCell(second, 1);
          check(
            cellText(second, 1) === 'second\n',
            `the other notebook's own kernel: ${JSON.stringify(cellText(second, 1))}`,
          );
          check(api.kernelPodName() === gateway, `the kept pod was reused: ${api.kernelPodName()}`);
          const recorded = state.get<KeptState>(keptStateKey)?.kernels ?? {};
          check(
            recorded[first.uri.toString()]?.kernelId ===
              kept.kernels[first.uri.toString()]?.kernelId &&
              recorded[second.uri.toString()]?.kernelId ===
                kept.kernels[second.uri.toString()]?.kernelId,
            `workspace state names the same kernels again: ${JSON.stringify(recorded)}`,
          );
        } finally {
          await configuration.update(
            'cleanupPolicy',
            undefined,
            vscode.ConfigurationTarget.Workspace,
          );
          await api.stopPods();
          for (let open = 2; open > 0; open--) {
            await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
          }
        }
      },
    },
    {
      name: 'a setting that shapes the pods changed before the reload: the kept pods are deleted, not reused, and fresh ones start',
      run: async () => {
        const configuration = vscode.workspace.getConfiguration('podRunner');
        const kubeconfig = configuration.get<string>('kubeconfig')!;
        const podNames = async () => (await listManagedPods({ kubeconfig })).map((p) => p.name);
        const main = extensionMain();
        const state = new WorkspaceState();
        let api = await reload(main, state);
        const kept: string[] = [];
        await configuration.update('cleanupPolicy', 'keep', vscode.ConfigurationTarget.Workspace);
        try {
          const notebook = await openKernelNotebook([
            'x = 41',
            'print(globals().get("x", "fresh"))',
          ]);
          await runCell(notebook, 0);
          await api.runCode('bash', 'true');
          const [gateway, executor] = [api.kernelPodName(), api.executorPodName()];
          check(gateway && executor, 'both pods run');
          kept.push(gateway, executor);

          // Changed while no window holds the pods: only the spec they carry tells.
          api = await reload(main, state);
          await configuration.update(
            'idleTimeoutMinutes',
            59,
            vscode.ConfigurationTarget.Workspace,
          );
          await api.runCode('bash', 'true');
          check(
            api.executorPodName() !== executor,
            `a fresh executor pod: ${api.executorPodName()}`,
          );
          await selectPodKernel(notebook);
          await runCell(notebook, 1);
          check(
            cellText(notebook, 1) === 'fresh\n',
            `a fresh kernel: ${JSON.stringify(cellText(notebook, 1))}`,
          );
          check(api.kernelPodName() !== gateway, `a fresh gateway pod: ${api.kernelPodName()}`);
          await eventually(
            async () => ((await podNames()).some((name) => kept.includes(name)) ? undefined : true),
            30_000,
            `the kept pods ${kept.join(', ')} to be deleted`,
          );
        } finally {
          for (const key of ['cleanupPolicy', 'idleTimeoutMinutes']) {
            await configuration.update(key, undefined, vscode.ConfigurationTarget.Workspace);
          }
          await api.stopPods();
          await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
        }
      },
    },
    {
      name: "an Interactive Window open across a reload keeps its file: a cell typed in it runs in the file's folder, and Run Cell adds to it",
      run: async () => {
        const main = extensionMain();
        const state = new WorkspaceState();
        let api = await reload(main, state);
        const folder = projectPath('sub');
        await mkdir(folder, { recursive: true });
        const uri = vscode.Uri.file(join(folder, 'kept.py'));
        await writeFile(uri.fsPath, '# %%\nimport os\nprint(os.path.basename(os.getcwd()))\n');
        const window = () =>
          vscode.workspace.notebookDocuments.find(
            (notebook) => notebook.notebookType === 'interactive' && notebook.cellCount > 0,
          );
        const ran = async (index: number) => {
          await waitFor(
            () =>
              (window()?.cellCount ?? 0) > index &&
              window()!.cellAt(index).executionSummary?.success !== undefined,
            180_000,
            `cell ${index} of the window`,
          );
          return cellText(window()!, index);
        };
        try {
          await vscode.window.showTextDocument(uri);
          await vscode.commands.executeCommand('podRunner.runCell', uri, 0);
          check((await ran(0)) === 'sub\n', `before the reload: ${cellText(window()!, 0)}`);
          api = await reload(main, state);
          // What the window's input box adds: a cell without the file's metadata.
          const edit = new vscode.WorkspaceEdit();
          edit.set(window()!.uri, [
            vscode.NotebookEdit.insertCells(1, [
              new vscode.NotebookCellData(
                vscode.NotebookCellKind.Code,
                "import os\nprint('typed', os.path.basename(os.getcwd()))",
                'python',
              ),
            ]),
          ]);
          check(await vscode.workspace.applyEdit(edit), 'the typed cell was added');
          await vscode.commands.executeCommand('notebook.cell.execute', {
            ranges: [{ start: 1, end: 2 }],
            document: window()!.uri,
          });
          check((await ran(1)) === 'typed sub\n', `after the reload: ${cellText(window()!, 1)}`);
          await vscode.commands.executeCommand('podRunner.runCell', uri, 0);
          check((await ran(2)) === 'sub\n', `Run Cell again: ${cellText(window()!, 2)}`);
          const windows = vscode.workspace.notebookDocuments.filter(
            (notebook) => notebook.notebookType === 'interactive',
          );
          check(windows.length === 1, `one window for the file: ${windows.length}`);
        } finally {
          await api.stopPods();
          await vscode.commands.executeCommand('workbench.action.closeAllEditors');
          await rm(folder, { recursive: true, force: true });
        }
      },
    },
  ],
};
