import { appendFileSync, readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import {
  defaultJupyterCommand,
  executorContainerName,
  listManagedPods,
  loadClusterTarget,
  PodCommandLineCodeExecutor,
  PodExecClient,
} from '../../../src/core/index.ts';
import type { PodRunnerApi } from '../../../src/extension/api.ts';
import { windowPodLabels } from '../../../src/extension/windowIdentity.ts';

/**
 * Tests that run inside the real extension host. Each result is appended as a JSON line to the
 * file named by POD_RUNNER_TEST_RESULTS, which the node:test side turns into test results.
 */
type HostTest = { name: string; run: (api: PodRunnerApi) => Promise<void> };

function check(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

async function withTimeout<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Polls `value` until it returns something (not undefined). */
async function eventually<T>(
  value: () => Promise<T | undefined>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await value();
    if (found !== undefined) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

const decode = (data: Uint8Array) => new TextDecoder().decode(data);

function cellText(notebook: vscode.NotebookDocument, index: number): string {
  return notebook
    .cellAt(index)
    .outputs.flatMap((o) => o.items)
    .map((item) => decode(item.data))
    .join('');
}

async function openKernelNotebook(sources: string[]): Promise<vscode.NotebookDocument> {
  const notebook = await vscode.workspace.openNotebookDocument(
    'jupyter-notebook',
    new vscode.NotebookData(
      sources.map(
        (code) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python'),
      ),
    ),
  );
  await vscode.window.showNotebookDocument(notebook);
  await vscode.commands.executeCommand('notebook.selectKernel', {
    id: 'pod-runner-kernel',
    extension: 'pod-runner.pod-runner',
  });
  return notebook;
}

/** Runs one cell and waits until its execution has ended. */
async function runCell(notebook: vscode.NotebookDocument, index: number): Promise<void> {
  const before = notebook.cellAt(index).executionSummary?.timing?.endTime;
  await vscode.commands.executeCommand('notebook.cell.execute', {
    ranges: [{ start: index, end: index + 1 }],
    document: notebook.uri,
  });
  await waitFor(
    () => {
      const summary = notebook.cellAt(index).executionSummary;
      return summary?.success !== undefined && summary.timing?.endTime !== before;
    },
    120_000,
    `cell ${index} to finish`,
  );
}

const tests: HostTest[] = [
  {
    name: 'every contributed command is registered',
    run: async () => {
      const extension = vscode.extensions.getExtension('pod-runner.pod-runner')!;
      const contributed = (
        extension.packageJSON as { contributes: { commands: { command: string }[] } }
      ).contributes.commands.map((c) => c.command);
      const registered = new Set(await vscode.commands.getCommands(true));
      const missing = contributed.filter((command) => !registered.has(command));
      check(missing.length === 0, `not registered: ${missing.join(', ')}`);
    },
  },
  {
    name: 'Run Selection streams the output into the Pod Runner: Output channel',
    run: async (api) => {
      const document = await vscode.workspace.openTextDocument({
        language: 'python',
        content: "import sys\nprint('from the pod', sys.version_info[0])\nprint('not selected')\n",
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
      check(written.includes('from the pod 3\n'), `output channel got: ${JSON.stringify(written)}`);
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
      check(result.output === `${first}\n`, `the run reuses the pod: ${result.output} vs ${first}`);
    },
  },
  {
    name: 'the status bar follows the executor pod: ready, busy, ready, none',
    run: async (api) => {
      check(api.status().executor === 'ready', `state ${api.status().executor}`);
      check(api.status().text.includes('Pod Runner: executor ready'), `text ${api.status().text}`);
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
    name: 'Open Shell runs an interactive tty shell in the executor pod',
    run: async (api) => {
      await api.runCode('bash', 'true');
      const opened = new Promise<vscode.Terminal>((resolve) => {
        const listener = vscode.window.onDidOpenTerminal((terminal) => {
          listener.dispose();
          resolve(terminal);
        });
      });
      await vscode.commands.executeCommand('podRunner.openShell', 'executor');
      const terminal = await withTimeout(opened, 10_000, 'opening the terminal');
      check(terminal.name === `Pod: ${api.executorPodName()}`, `terminal ${terminal.name}`);
      const closed = new Promise<void>((resolve) => {
        const listener = vscode.window.onDidCloseTerminal((t) => {
          if (t === terminal) {
            listener.dispose();
            resolve();
          }
        });
      });
      terminal.sendText('echo "$((6*7)) $(tty)" > /workspace/shell-proof; exit 5');
      await withTimeout(closed, 30_000, 'the shell to exit');
      check(terminal.exitStatus?.code === 5, `exit status ${terminal.exitStatus?.code}`);
      const proof = await api.runCode('bash', 'cat /workspace/shell-proof');
      check(/^42 \/dev\/pts\/\d+\n$/.test(proof.output), `the shell wrote ${proof.output}`);
    },
  },
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
      await configuration.update('labels', { team: 'tests' }, vscode.ConfigurationTarget.Workspace);
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
      const kubeconfig = vscode.workspace.getConfiguration('podRunner').get<string>('kubeconfig')!;
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
        vscode.ConfigurationTarget.Workspace,
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
        await configuration.update('kubeconfig', original, vscode.ConfigurationTarget.Workspace);
      }
    },
  },
  {
    name: 'the stateless notebook controller runs python and shell cells in the pod',
    run: async () => {
      const data = new vscode.NotebookData([
        new vscode.NotebookCellData(
          vscode.NotebookCellKind.Code,
          'print("cell one", 6 * 7)',
          'python',
        ),
        new vscode.NotebookCellData(
          vscode.NotebookCellKind.Code,
          'echo "shell $((2 + 3))"; exit 4',
          'shellscript',
        ),
      ]);
      const notebook = await vscode.workspace.openNotebookDocument('jupyter-notebook', data);
      await vscode.window.showNotebookDocument(notebook);
      await vscode.commands.executeCommand('notebook.selectKernel', {
        id: 'pod-runner-stateless',
        extension: 'pod-runner.pod-runner',
      });
      await vscode.commands.executeCommand('notebook.execute');
      const text = (index: number) =>
        notebook
          .cellAt(index)
          .outputs.flatMap((o) => o.items)
          .map((item) => new TextDecoder().decode(item.data))
          .join('');
      const deadline = Date.now() + 120_000;
      while (
        !(
          notebook.cellAt(1).executionSummary?.success === false && text(1).includes('exit code 4')
        ) &&
        Date.now() < deadline
      ) {
        await new Promise((done) => setTimeout(done, 200));
      }
      check(text(0) === 'cell one 42\n', `cell 1 output: ${JSON.stringify(text(0))}`);
      check(notebook.cellAt(0).executionSummary?.success === true, 'cell 1 succeeded');
      check(text(1).startsWith('shell 5\n'), `cell 2 output: ${JSON.stringify(text(1))}`);
      check(
        notebook.cellAt(1).executionSummary?.success === false,
        'cell 2 failed with its exit code',
      );
      const orders = [0, 1].map((i) => notebook.cellAt(i).executionSummary?.executionOrder ?? 0);
      check(orders[1]! > orders[0]!, `execution order ${orders.join(',')}`);
    },
  },
  {
    name: 'the gateway kernel controller keeps state, shows images and errors in cells, and interrupts',
    run: async () => {
      const cells = [
        'x = 21',
        'print(x * 2)',
        'import matplotlib.pyplot as plt\n%matplotlib inline\nplt.plot([1, 3, 2])\nplt.show()',
        '1 / 0',
      ].map((code) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python'));
      const notebook = await vscode.workspace.openNotebookDocument(
        'jupyter-notebook',
        new vscode.NotebookData(cells),
      );
      await vscode.window.showNotebookDocument(notebook);
      await vscode.commands.executeCommand('notebook.selectKernel', {
        id: 'pod-runner-kernel',
        extension: 'pod-runner.pod-runner',
      });
      await vscode.commands.executeCommand('notebook.execute');
      const deadline = Date.now() + 180_000;
      while (notebook.cellAt(3).executionSummary?.success === undefined && Date.now() < deadline) {
        await new Promise((done) => setTimeout(done, 250));
      }
      const items = (index: number) => notebook.cellAt(index).outputs.flatMap((o) => o.items);
      const stdout = new TextDecoder().decode(
        items(1).find((i) => i.mime === 'application/vnd.code.notebook.stdout')?.data,
      );
      const describeCell = (index: number) =>
        items(index)
          .map((i) => `${i.mime}: ${new TextDecoder().decode(i.data).slice(0, 3000)}`)
          .join(' | ');
      check(
        stdout === '42\n',
        `state across cells: ${JSON.stringify(stdout)}; cell 1: ${describeCell(0)}; cell 2: ${describeCell(1)}`,
      );
      const png = items(2).find((i) => i.mime === 'image/png');
      check(
        png && png.data[1] === 0x50 && png.data[2] === 0x4e && png.data[3] === 0x47,
        `image/png bytes in the plot cell: ${items(2)
          .map((i) => i.mime)
          .join(',')}`,
      );
      const error = items(3).find((i) => i.mime === 'application/vnd.code.notebook.error');
      check(
        error && new TextDecoder().decode(error.data).includes('ZeroDivisionError'),
        'the error is an error output in the cell',
      );
      check(
        notebook.cellAt(3).executionSummary?.success === false,
        'the failing cell is marked failed',
      );
      check(
        (notebook.cellAt(1).executionSummary?.executionOrder ?? 0) > 0,
        'execution order from the kernel',
      );

      const sleeper = await vscode.workspace.openNotebookDocument(
        'jupyter-notebook',
        new vscode.NotebookData([
          new vscode.NotebookCellData(
            vscode.NotebookCellKind.Code,
            'import time\ntime.sleep(60)',
            'python',
          ),
        ]),
      );
      await vscode.window.showNotebookDocument(sleeper);
      await vscode.commands.executeCommand('notebook.selectKernel', {
        id: 'pod-runner-kernel',
        extension: 'pod-runner.pod-runner',
      });
      void vscode.commands.executeCommand('notebook.execute');
      const started = Date.now();
      while (
        !sleeper.cellAt(0).outputs.length &&
        Date.now() - started < 60_000 &&
        !sleeper.cellAt(0).executionSummary?.timing
      ) {
        await new Promise((done) => setTimeout(done, 250));
        if (Date.now() - started > 4_000) {
          break;
        }
      }
      await vscode.commands.executeCommand('notebook.cancelExecution');
      while (
        sleeper.cellAt(0).executionSummary?.success === undefined &&
        Date.now() - started < 60_000
      ) {
        await new Promise((done) => setTimeout(done, 250));
      }
      const interrupted = sleeper
        .cellAt(0)
        .outputs.flatMap((o) => o.items)
        .map((i) => new TextDecoder().decode(i.data))
        .join('');
      check(
        interrupted.includes('KeyboardInterrupt'),
        `interrupt reached the kernel: ${interrupted.slice(0, 200)}`,
      );
      check(Date.now() - started < 50_000, 'the interrupted cell ended long before 60 s');
    },
  },
  {
    name: 'input() asks with an input box; Restart Kernel clears the state; Show Pod Logs',
    run: async (api) => {
      const notebook = await openKernelNotebook([
        'value = input("Your name? ")\nprint("got", repr(value))',
        'x = 5',
        'print("x" in globals())',
      ]);
      const asking = runCell(notebook, 0);
      await waitFor(() => cellText(notebook, 0).includes('Your name? '), 120_000, 'the prompt');
      // The input box opens a moment after the prompt reaches the cell: accept once it is there.
      let answered = false;
      void asking.then(() => (answered = true));
      for (let attempt = 0; attempt < 40 && !answered; attempt++) {
        await new Promise((done) => setTimeout(done, 500));
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      }
      await asking;
      check(cellText(notebook, 0).includes("got ''"), `cell 1: ${cellText(notebook, 0)}`);
      check(api.status().kernel === 'ready', `kernel state ${api.status().kernel}`);
      check(api.status().text.includes('kernel ready'), `text ${api.status().text}`);

      await runCell(notebook, 1);
      await vscode.commands.executeCommand('podRunner.restartKernel');
      await runCell(notebook, 2);
      check(cellText(notebook, 2) === 'False\n', `after the restart: ${cellText(notebook, 2)}`);
      check(
        notebook.cellAt(2).executionSummary?.executionOrder === 1,
        `execution count restarts: ${notebook.cellAt(2).executionSummary?.executionOrder}`,
      );

      await vscode.commands.executeCommand('podRunner.showPodLogs', 'kernel');
      const document = vscode.window.activeTextEditor?.document;
      check(document?.uri.scheme === 'pod-runner-logs', `active: ${document?.uri.toString()}`);
      check(
        document.uri.path.endsWith(`/${api.kernelPodName()}.log`),
        `log of ${document.uri.path}`,
      );
      check(/Jupyter Server/.test(document.getText()), `log: ${document.getText().slice(0, 300)}`);
    },
  },
  {
    name: 'a kernel cell cancelled while the gateway pod starts ends without running',
    run: async (api) => {
      await api.stopPods();
      const configuration = vscode.workspace.getConfiguration('podRunner');
      // The gateway container waits for this file before it starts its server, so the pod stays
      // "starting" until the test opens the gate: the cancel lands in that state every time.
      const gate = '/tmp/pod-runner-start-gate';
      await configuration.update(
        'jupyterCommand',
        [
          '/bin/bash',
          '-c',
          `until [ -e ${gate} ]; do sleep 0.1; done; exec "$@"`,
          'gated',
          ...defaultJupyterCommand,
        ],
        vscode.ConfigurationTarget.Workspace,
      );
      try {
        const notebook = await openKernelNotebook([
          'cancelled_cell_ran = True',
          'print("cancelled_cell_ran" in globals())',
        ]);
        void vscode.commands.executeCommand('notebook.cell.execute', {
          ranges: [{ start: 0, end: 1 }],
          document: notebook.uri,
        });
        await waitFor(() => api.status().kernel === 'starting', 30_000, 'the kernel pod to start');
        await vscode.commands.executeCommand('notebook.cancelExecution');

        const kubeconfig = configuration.get<string>('kubeconfig')!;
        const target = loadClusterTarget({ kubeconfig });
        const pod = await eventually(
          async () =>
            (await listManagedPods({ kubeconfig })).find(
              (p) => p.name.startsWith('autogen-jupyter-') && p.phase === 'Running',
            )?.name,
          60_000,
          'the gateway container to run',
        );
        const opened = await new PodExecClient(target.kubeConfig).run({
          namespace: target.namespace,
          pod,
          container: executorContainerName,
          command: ['touch', gate],
        });
        check(opened.exitCode === 0, `opening the gate: exit code ${opened.exitCode}`);

        await runCell(notebook, 1);
        check(
          cellText(notebook, 1) === 'False\n',
          `the cancelled cell ran: ${cellText(notebook, 1)}`,
        );
        check(
          notebook.cellAt(1).executionSummary?.executionOrder === 1,
          `the kernel ran one cell before: ${notebook.cellAt(1).executionSummary?.executionOrder}`,
        );
        check(notebook.cellAt(0).outputs.length === 0, 'the cancelled cell has no output');
        check(
          notebook.cellAt(0).executionSummary?.success !== true,
          'the cancelled cell is not marked as run',
        );
      } finally {
        await configuration.update(
          'jupyterCommand',
          undefined,
          vscode.ConfigurationTarget.Workspace,
        );
        await api.stopPods();
      }
    },
  },
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
      await configuration.update('namespace', 'kube-system', vscode.ConfigurationTarget.Workspace);
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
  {
    name: 'stopping deletes the executor pod',
    run: async (api) => {
      await api.runCode('python', 'print(1)');
      check(api.executorPodName() !== undefined, 'a pod was started');
      await api.stopPods();
      check(api.executorPodName() === undefined, 'the pod is gone from the session');
    },
  },
];

export async function run(): Promise<void> {
  const results = process.env.POD_RUNNER_TEST_RESULTS;
  if (!results) {
    throw new Error('POD_RUNNER_TEST_RESULTS is not set');
  }
  const extension = vscode.extensions.getExtension<PodRunnerApi>('pod-runner.pod-runner');
  check(extension, 'the extension is not installed in this host');
  const api = await extension.activate();
  let failed = 0;
  for (const test of tests) {
    const started = Date.now();
    try {
      await test.run(api);
      appendFileSync(
        results,
        `${JSON.stringify({ name: test.name, ok: true, ms: Date.now() - started })}\n`,
      );
    } catch (error) {
      failed++;
      appendFileSync(
        results,
        `${JSON.stringify({ name: test.name, ok: false, ms: Date.now() - started, error: (error as Error).stack ?? String(error) })}\n`,
      );
    }
  }
  await api.stopPods().catch(() => undefined);
  if (failed > 0) {
    throw new Error(`${failed} extension host test(s) failed`);
  }
}
