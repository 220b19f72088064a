import * as vscode from 'vscode';
import type { PodJupyterCodeExecutor, PodJupyterServer } from '../core/index.ts';
import { unlessAborted } from './cancellation.ts';
import { CellOutputWriter } from './cellOutputWriter.ts';
import { NotebookCellQueues } from './cellQueue.ts';
import { clusterTargetOf } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { PodSession } from './podSession.ts';
import type { PodStateHolder } from './podState.ts';

type KernelCtx = Pick<Ctx, 'settings' | 'logger' | 'podLabels' | 'leftovers'>;

/**
 * "Kubernetes kernel (Jupyter gateway pod)": one gateway pod per window, started lazily, one
 * kernel per notebook. Rich outputs, display updates, clear_output, errors in the cell; a
 * cancelled cell interrupts the kernel.
 */
export class KernelController implements vscode.Disposable {
  private readonly controller = vscode.notebooks.createNotebookController(
    'pod-runner-kernel',
    'jupyter-notebook',
    'Kubernetes kernel (Jupyter gateway pod)',
  );
  private readonly gateway: PodSession<PodJupyterServer>;
  /** One kernel per open notebook, by notebook URI; removed when the notebook closes. */
  private readonly kernels = new Map<string, Promise<PodJupyterCodeExecutor>>();
  private readonly queues: NotebookCellQueues;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly ctx: KernelCtx) {
    this.gateway = new PodSession({
      kind: 'kernel pod',
      create: () => createServer(ctx),
      afterStart: () => ctx.leftovers.afterPodStart(),
    });
    this.controller.description = 'A stateful Python kernel in a Jupyter kernel gateway pod';
    this.controller.supportedLanguages = ['python'];
    this.controller.supportsExecutionOrder = true;
    // Cancelling a cell aborts its signal; the executor turns that into a kernel interrupt
    // once the code runs. (An interruptHandler would replace the cells' cancellation tokens.)
    this.queues = new NotebookCellQueues(this.controller, (cell, execution, signal) =>
      this.runCell(cell, execution, signal),
    );
    vscode.workspace.onDidCloseNotebookDocument(
      (notebook) => void this.closeKernel(notebook),
      null,
      this.subscriptions,
    );
  }

  get status(): PodStateHolder {
    return this.gateway.status;
  }

  /** The gateway pod's name, once it runs. */
  get podName(): string | undefined {
    return this.gateway.running?.podName;
  }

  /** The running gateway server (for logs and shells), if any. */
  get runningServer(): PodJupyterServer | undefined {
    return this.gateway.running;
  }

  /** Starts the gateway pod (with progress) unless it runs already. */
  ensureServer(): Promise<PodJupyterServer> {
    return this.gateway.ensureStarted();
  }

  async restartKernel(notebook: vscode.NotebookDocument): Promise<void> {
    const kernel = await this.kernels.get(notebook.uri.toString());
    await kernel?.restart();
  }

  /** Stops every kernel and deletes the gateway pod, secret and service. */
  async stop(): Promise<void> {
    const kernels = [...this.kernels.values()];
    this.kernels.clear();
    await Promise.all(kernels.map(async (kernel) => (await kernel.catch(() => undefined))?.stop()));
    await this.gateway.close((server) => server.stop());
  }

  dispose(): void {
    this.queues.dispose();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    void this.stop().finally(() => this.gateway.dispose());
    this.controller.dispose();
  }

  private async runCell(
    cell: vscode.NotebookCell,
    execution: vscode.NotebookCellExecution,
    signal: AbortSignal,
  ): Promise<boolean> {
    // A cell cancelled while the gateway pod or its kernel starts ends without running.
    const kernel = await unlessAborted(this.kernelFor(cell.notebook), signal);
    const output = new CellOutputWriter(execution);
    const result = await this.gateway.use(() =>
      kernel.executeCodeBlocks([{ language: 'python', code: cell.document.getText() }], {
        signal,
        onOutput: (event) => output.write(event),
      }),
    );
    await output.flushed();
    return result.exitCode === 0;
  }

  private kernelFor(notebook: vscode.NotebookDocument): Promise<PodJupyterCodeExecutor> {
    const key = notebook.uri.toString();
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = (async () => {
        const server = await this.gateway.ensureStarted();
        const settings = this.ctx.settings;
        const { PodJupyterCodeExecutor } = await loadCore();
        const executor = new PodJupyterCodeExecutor(server, {
          kernelName: settings.kernelName,
          timeout: settings.timeout,
          logger: this.ctx.logger,
          onInput: async (prompt, password) =>
            (await vscode.window.showInputBox({ prompt, password, ignoreFocusOut: true })) ?? '',
        });
        await executor.start();
        return executor;
      })();
      const started = kernel;
      // A kernel that failed to start is forgotten, so the next cell tries again.
      started.catch(() => this.kernels.get(key) === started && this.kernels.delete(key));
      this.kernels.set(key, started);
    }
    return kernel;
  }

  private async closeKernel(notebook: vscode.NotebookDocument): Promise<void> {
    const key = notebook.uri.toString();
    const kernel = this.kernels.get(key);
    this.kernels.delete(key);
    await (await kernel?.catch(() => undefined))?.stop();
  }
}

async function createServer(ctx: KernelCtx): Promise<PodJupyterServer> {
  const settings = ctx.settings;
  const { PodJupyterServer } = await loadCore();
  return new PodJupyterServer({
    ...clusterTargetOf(settings),
    image: settings.jupyterImage,
    ...(settings.jupyterCommand ? { command: settings.jupyterCommand } : {}),
    port: settings.jupyterPort,
    startupTimeout: settings.startupTimeout,
    autoRemove: settings.autoRemove,
    labels: { ...settings.labels, ...ctx.podLabels },
    logger: ctx.logger,
  });
}
