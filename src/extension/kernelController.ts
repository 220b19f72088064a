import * as vscode from 'vscode';
import type {
  KernelOutputEvent,
  OutputStream,
  PodJupyterCodeExecutor,
  PodJupyterServer,
} from '../core/index.ts';
import { cancellationError, unlessAborted } from './cancellation.ts';
import { CellOutputWriter } from './cellOutputWriter.ts';
import { NotebookCellQueues } from './cellQueue.ts';
import { clusterTargetOf } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { PodSession } from './podSession.ts';
import { StreamLineMappers } from './lineMapper.ts';
import type { PodStateHolder } from './podState.ts';
import { remoteFolderOf } from './workspaceSync.ts';

type KernelCtx = Pick<
  Ctx,
  'settings' | 'logger' | 'podLabels' | 'leftovers' | 'workspaceSync' | 'output'
>;

/** A notebook's kernel, tied to the gateway server it was started on. */
interface NotebookKernel {
  server: PodJupyterServer;
  kernel: Promise<PodJupyterCodeExecutor>;
  /** The kernel's working directory in the pod, once set (it keeps it across restarts). */
  workingDirectory?: string;
}

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
  private readonly kernels = new Map<string, NotebookKernel>();
  private readonly queues: NotebookCellQueues;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly ctx: KernelCtx) {
    this.gateway = new PodSession({
      kind: 'kernel pod',
      create: () => createServer(ctx),
      isRunning: (server) => server.isRunning,
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
    // Stopping the gateway pod (or cancelling its start) cancels every notebook's cells.
    this.gateway.onDidStop(() => this.queues.cancelAll(), null, this.subscriptions);
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
    const entry = this.kernels.get(notebook.uri.toString());
    if (entry && entry.server === this.gateway.running) {
      await (await entry.kernel).restart();
    }
  }

  /**
   * Cancels every cell, stops every kernel and deletes the gateway pod, secret and service (when
   * asked to, `force`, or when autoRemove is on; otherwise the gateway is left running). A start
   * in progress is cancelled first, so nothing waits for it.
   */
  async stop(force = true): Promise<void> {
    const kernels = [...this.kernels.values()];
    this.kernels.clear();
    await this.gateway.close(async (server) => {
      // The kernels first, while their server answers; those that fail to stop are only logged.
      await Promise.all(kernels.map((entry) => this.stopKernel(entry)));
      await (force ? server.stop() : server[Symbol.asyncDispose]());
    });
  }

  dispose(): void {
    this.queues.dispose();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.controller.dispose();
    this.gateway.dispose();
  }

  private async runCell(
    cell: vscode.NotebookCell,
    execution: vscode.NotebookCellExecution,
    signal: AbortSignal,
  ): Promise<boolean> {
    // A cell cancelled while the gateway pod or its kernel starts ends without running.
    const entry = await unlessAborted(this.kernelFor(cell.notebook), signal);
    const { server } = entry;
    const kernel = await entry.kernel;
    const output = new CellOutputWriter(execution);
    const { remoteToLocal } = await loadCore();
    const toLocal = (text: string) => remoteToLocal(text, server.syncedFolders);
    const streams = new StreamLineMappers<OutputStream>(toLocal, (name, text) =>
      output.write({ type: 'stream', name, text }),
    );
    let result;
    try {
      result = await this.gateway.use(server, async () => {
        await this.syncNotebookFolder(cell.notebook, entry, kernel, signal);
        return kernel.executeCodeBlocks([{ language: 'python', code: cell.document.getText() }], {
          signal,
          onOutput: (event) => writeMapped(event, streams, toLocal, output),
        });
      });
    } catch (error) {
      // A gateway that stopped when idle is deleted; the next cell starts a new one.
      const reason = await server.removeIfEnded().catch(() => undefined);
      throw reason ? new Error(`${reason}; the next cell starts a new kernel pod`) : error;
    } finally {
      streams.flush();
      // The tail of capped output is written also when the run failed.
      await output.flushed();
    }
    return result.exitCode === 0;
  }

  /**
   * Mirrors the notebook's folder into the gateway pod (nothing is sent when nothing changed) and
   * makes the notebook's folder there the kernel's working directory, the root importable.
   */
  private async syncNotebookFolder(
    notebook: vscode.NotebookDocument,
    entry: NotebookKernel,
    kernel: PodJupyterCodeExecutor,
    signal: AbortSignal,
  ): Promise<void> {
    const project = await this.ctx.workspaceSync.syncNotebook(
      entry.server,
      notebook,
      signal,
      (text) => this.ctx.output.write(text),
    );
    if (!project) {
      return;
    }
    const directory = remoteFolderOf(project, notebook.uri.fsPath);
    if (entry.workingDirectory !== directory) {
      await kernel.setWorkingDirectory(directory, { importRoots: [project.root] });
      entry.workingDirectory = directory;
    }
  }

  /** The notebook's kernel on the running gateway server; starts either when needed. */
  private async kernelFor(notebook: vscode.NotebookDocument): Promise<NotebookKernel> {
    const key = notebook.uri.toString();
    const server = await this.gateway.ensureStarted();
    if (server !== this.gateway.running) {
      throw cancellationError('the kernel pod was stopped');
    }
    let entry = this.kernels.get(key);
    if (entry?.server !== server) {
      // A kernel on a server that is gone is of no use: start one on the running server.
      if (entry) {
        void this.stopKernel(entry);
      }
      const started: NotebookKernel = { server, kernel: this.startKernel(server) };
      // A kernel that failed to start is forgotten, so the next cell tries again.
      started.kernel.catch(() => this.kernels.get(key) === started && this.kernels.delete(key));
      this.kernels.set(key, started);
      entry = started;
    }
    await entry.kernel;
    return entry;
  }

  private async startKernel(server: PodJupyterServer): Promise<PodJupyterCodeExecutor> {
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
  }

  private async closeKernel(notebook: vscode.NotebookDocument): Promise<void> {
    const key = notebook.uri.toString();
    const entry = this.kernels.get(key);
    this.kernels.delete(key);
    if (entry) {
      await this.stopKernel(entry);
    }
  }

  /** Stops a kernel once it has started; never rejects (a failure is logged). */
  private async stopKernel(entry: NotebookKernel): Promise<void> {
    try {
      await (await entry.kernel.catch(() => undefined))?.stop();
    } catch (error) {
      this.ctx.logger.warn(`could not stop a kernel: ${(error as Error).message}`);
    }
  }
}

/**
 * Writes a kernel output event with the pod's paths of synced folders shown as the local ones.
 * Stream text is mapped by whole lines; any other event first releases the lines held, to keep
 * the order.
 */
function writeMapped(
  event: KernelOutputEvent,
  streams: StreamLineMappers<OutputStream>,
  toLocal: (text: string) => string,
  output: CellOutputWriter,
): void {
  if (event.type === 'stream') {
    streams.write(event.name, event.text);
    return;
  }
  streams.flush();
  output.write(
    event.type === 'error'
      ? { ...event, evalue: toLocal(event.evalue), traceback: event.traceback.map(toLocal) }
      : event,
  );
}

async function createServer(ctx: KernelCtx): Promise<PodJupyterServer> {
  const settings = ctx.settings;
  const { PodJupyterServer } = await loadCore();
  return new PodJupyterServer({
    ...clusterTargetOf(settings),
    image: settings.jupyterImage,
    ...(settings.jupyterCommand ? { command: settings.jupyterCommand } : {}),
    port: settings.jupyterPort,
    // The same path as the executor's: a folder syncs to the same root in both pods.
    workspacePath: settings.workspacePath,
    startupTimeout: settings.startupTimeout,
    autoRemove: settings.autoRemove,
    idleTimeoutMinutes: settings.idleTimeoutMinutes,
    labels: { ...settings.labels, ...ctx.podLabels },
    logger: ctx.logger,
  });
}
