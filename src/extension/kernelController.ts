import * as vscode from 'vscode';
import type { PodJupyterCodeExecutor, PodJupyterServer } from '../core/index.ts';
import { unlessAborted } from './cancellation.ts';
import { CellOutputWriter } from './cellOutputWriter.ts';
import { NotebookCellQueues } from './cellQueue.ts';
import { clusterTargetOf } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { PodStateHolder } from './podState.ts';
import { withPodStartProgress } from './podStartProgress.ts';

/**
 * "Kubernetes kernel (Jupyter gateway pod)": one gateway pod per window, started lazily, one
 * kernel per notebook. Rich outputs, display updates, clear_output, errors in the cell, interrupt.
 */
export class KernelController implements vscode.Disposable {
  private readonly controller = vscode.notebooks.createNotebookController(
    'pod-runner-kernel',
    'jupyter-notebook',
    'Kubernetes kernel (Jupyter gateway pod)',
  );
  private server: PodJupyterServer | undefined;
  private serverStarting: Promise<PodJupyterServer> | undefined;
  private readonly kernels = new Map<string, Promise<PodJupyterCodeExecutor>>();
  private readonly queues: NotebookCellQueues;
  private readonly subscriptions: vscode.Disposable[] = [];
  private runningCells = 0;
  readonly status = new PodStateHolder();

  constructor(private readonly ctx: Ctx) {
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

  async restartKernel(notebook: vscode.NotebookDocument): Promise<void> {
    const kernel = await this.kernels.get(notebook.uri.toString());
    await kernel?.restart();
  }

  /** The gateway pod's name, once it runs. */
  get podName(): string | undefined {
    return this.server?.podName;
  }

  /** The running gateway server (for logs and shells), if any. */
  get runningServer(): PodJupyterServer | undefined {
    return this.server;
  }

  /** Starts the gateway pod (with progress) unless it runs already. */
  ensureServer(): Promise<PodJupyterServer> {
    if (this.server) {
      return Promise.resolve(this.server);
    }
    this.serverStarting ??= (async () => {
      const settings = this.ctx.settings;
      const { PodJupyterServer } = await loadCore();
      const server = new PodJupyterServer({
        ...clusterTargetOf(settings),
        image: settings.jupyterImage,
        ...(settings.jupyterCommand ? { command: settings.jupyterCommand } : {}),
        port: settings.jupyterPort,
        startupTimeout: settings.startupTimeout,
        autoRemove: settings.autoRemove,
        labels: { ...settings.labels, ...this.ctx.podLabels },
        logger: this.ctx.logger,
      });
      await withPodStartProgress(
        this.status,
        `Pod Runner: starting kernel pod ${server.podName}`,
        (options) => server.start(options),
      );
      this.server = server;
      this.status.set('ready');
      this.ctx.leftovers.afterPodStart();
      return server;
    })().finally(() => (this.serverStarting = undefined));
    return this.serverStarting;
  }

  private kernelFor(notebook: vscode.NotebookDocument): Promise<PodJupyterCodeExecutor> {
    const key = notebook.uri.toString();
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = (async () => {
        const server = await this.ensureServer();
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
      kernel.catch(() => this.kernels.delete(key));
      this.kernels.set(key, kernel);
    }
    return kernel;
  }

  private async runCell(
    cell: vscode.NotebookCell,
    execution: vscode.NotebookCellExecution,
    signal: AbortSignal,
  ): Promise<boolean> {
    // A cell cancelled while the gateway pod or its kernel starts ends without running.
    const kernel = await unlessAborted(this.kernelFor(cell.notebook), signal);
    const output = new CellOutputWriter(execution);
    this.runningCells++;
    this.status.set('busy');
    try {
      const result = await kernel.executeCodeBlocks(
        [{ language: 'python', code: cell.document.getText() }],
        { signal, onOutput: (event) => output.write(event) },
      );
      await output.flushed();
      return result.exitCode === 0;
    } finally {
      this.runningCells--;
      if (this.runningCells === 0 && this.server) {
        this.status.set('ready');
      }
    }
  }

  private async closeKernel(notebook: vscode.NotebookDocument): Promise<void> {
    const key = notebook.uri.toString();
    const kernel = this.kernels.get(key);
    this.kernels.delete(key);
    await (await kernel?.catch(() => undefined))?.stop();
  }

  /** Stops every kernel and deletes the gateway pod, secret and service. */
  async stop(): Promise<void> {
    const kernels = [...this.kernels.values()];
    this.kernels.clear();
    await Promise.all(kernels.map(async (kernel) => (await kernel.catch(() => undefined))?.stop()));
    const server = this.server ?? (await this.serverStarting?.catch(() => undefined));
    this.server = undefined;
    await server?.stop();
    this.status.set('none');
  }

  dispose(): void {
    this.queues.dispose();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    void this.stop().finally(() => this.status.dispose());
    this.controller.dispose();
  }
}
