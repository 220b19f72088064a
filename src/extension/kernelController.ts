import * as vscode from 'vscode';
import type {
  KernelOutputEvent,
  MimeBundle,
  PodJupyterCodeExecutor,
  PodJupyterServer,
} from '../core/index.ts';
import { runCellExecution } from './cellExecution.ts';
import { clusterTargetOf } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { PodStateHolder } from './podState.ts';
import { withPodStartProgress } from './podStartProgress.ts';
import { renderStreamText } from './streamText.ts';

/** Mime types in Jupyter's preference order; VS Code shows the richest it can render. */
const mimeOrder = [
  'application/json',
  'text/html',
  'text/markdown',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'text/plain',
];
const binaryMimes = new Set(['image/png', 'image/jpeg']);

function outputItems(data: MimeBundle): vscode.NotebookCellOutputItem[] {
  return mimeOrder
    .filter((mime) => mime in data)
    .map((mime) => {
      const value = data[mime];
      if (binaryMimes.has(mime)) {
        return new vscode.NotebookCellOutputItem(Buffer.from(String(value), 'base64'), mime);
      }
      if (mime === 'application/json') {
        return vscode.NotebookCellOutputItem.json(value, mime);
      }
      return vscode.NotebookCellOutputItem.text(
        Array.isArray(value) ? value.join('') : String(value),
        mime,
      );
    });
}

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
  private readonly queues = new Map<string, Promise<void>>();
  private runningCells = 0;
  readonly status = new PodStateHolder();

  constructor(private readonly ctx: Ctx) {
    this.controller.description = 'A stateful Python kernel in a Jupyter kernel gateway pod';
    this.controller.supportedLanguages = ['python'];
    this.controller.supportsExecutionOrder = true;
    this.controller.executeHandler = (cells, notebook) => this.execute(cells, notebook);
    this.controller.interruptHandler = (notebook) => this.interrupt(notebook);
    vscode.workspace.onDidCloseNotebookDocument(
      (notebook) => void this.closeKernel(notebook),
      null,
      [],
    );
  }

  private execute(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument): void {
    if (!vscode.workspace.isTrusted) {
      return;
    }
    const key = notebook.uri.toString();
    for (const cell of cells) {
      const execution = this.controller.createNotebookCellExecution(cell);
      const next = (this.queues.get(key) ?? Promise.resolve()).then(() =>
        this.runCell(execution, cell, notebook),
      );
      this.queues.set(key, next);
    }
  }

  private async interrupt(notebook: vscode.NotebookDocument): Promise<void> {
    const kernel = await this.kernels.get(notebook.uri.toString());
    await kernel?.interrupt();
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
    execution: vscode.NotebookCellExecution,
    cell: vscode.NotebookCell,
    notebook: vscode.NotebookDocument,
  ): Promise<void> {
    const interrupt = execution.token.onCancellationRequested(() => void this.interrupt(notebook));
    this.runningCells++;
    try {
      await runCellExecution(execution, async () => {
        const kernel = await this.kernelFor(notebook);
        this.status.set('busy');
        const renderer = new CellOutputRenderer(execution);
        const result = await kernel.executeCodeBlocks(
          [{ language: 'python', code: cell.document.getText() }],
          { onOutput: (event) => renderer.handle(event) },
        );
        await renderer.flushed();
        return result.exitCode === 0;
      });
    } finally {
      interrupt.dispose();
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
    void this.stop().finally(() => this.status.dispose());
    this.controller.dispose();
  }
}

/** Turns one cell's kernel events into VS Code outputs, in order. */
class CellOutputRenderer {
  private chain = Promise.resolve();
  private stream: { name: string; text: string; output: vscode.NotebookCellOutput } | undefined;
  private readonly displays = new Map<string, vscode.NotebookCellOutput>();
  private clearOnNext = false;

  constructor(private readonly execution: vscode.NotebookCellExecution) {}

  handle(event: KernelOutputEvent): void {
    this.chain = this.chain.then(() => this.apply(event)).then(undefined, () => undefined);
  }

  flushed(): Promise<void> {
    return this.chain;
  }

  private async clearIfPending(): Promise<void> {
    if (this.clearOnNext) {
      this.clearOnNext = false;
      this.stream = undefined;
      await this.execution.clearOutput();
    }
  }

  private async apply(event: KernelOutputEvent): Promise<void> {
    switch (event.type) {
      case 'execute_input':
        if (event.executionCount !== null) {
          this.execution.executionOrder = event.executionCount;
        }
        return;
      case 'stream': {
        await this.clearIfPending();
        if (this.stream && this.stream.name === event.name) {
          this.stream.text += event.text;
          const item =
            event.name === 'stderr'
              ? vscode.NotebookCellOutputItem.stderr(renderStreamText(this.stream.text))
              : vscode.NotebookCellOutputItem.stdout(renderStreamText(this.stream.text));
          await this.execution.replaceOutputItems(item, this.stream.output);
          return;
        }
        const text = event.text;
        const item =
          event.name === 'stderr'
            ? vscode.NotebookCellOutputItem.stderr(renderStreamText(text))
            : vscode.NotebookCellOutputItem.stdout(renderStreamText(text));
        const output = new vscode.NotebookCellOutput([item]);
        this.stream = { name: event.name, text, output };
        await this.execution.appendOutput(output);
        return;
      }
      case 'display_data':
      case 'execute_result': {
        await this.clearIfPending();
        this.stream = undefined;
        const output = new vscode.NotebookCellOutput(
          outputItems(event.data),
          event.type === 'display_data' && event.displayId ? { displayId: event.displayId } : {},
        );
        if (event.type === 'display_data' && event.displayId) {
          this.displays.set(event.displayId, output);
        }
        await this.execution.appendOutput(output);
        return;
      }
      case 'update_display_data': {
        const output = this.displays.get(event.displayId);
        if (output) {
          await this.execution.replaceOutputItems(outputItems(event.data), output);
        }
        return;
      }
      case 'clear_output':
        if (event.wait) {
          this.clearOnNext = true;
        } else {
          this.stream = undefined;
          await this.execution.clearOutput();
        }
        return;
      case 'error':
        await this.clearIfPending();
        this.stream = undefined;
        await this.execution.appendOutput(
          new vscode.NotebookCellOutput([
            vscode.NotebookCellOutputItem.error({
              name: event.ename,
              message: event.evalue,
              stack: event.traceback.join('\n'),
            }),
          ]),
        );
        return;
      case 'input_request':
        await this.execution.appendOutput(
          new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.stdout(event.prompt)]),
        );
        return;
    }
  }
}
