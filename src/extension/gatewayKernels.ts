import * as vscode from 'vscode';
import type { CellOrigin, PodJupyterCodeExecutor, PodJupyterServer } from '../core/index.ts';
import { cancellationError } from './cancellation.ts';
import type { Ctx } from './ctx.ts';
import type { KeptKernel } from './keptPods.ts';
import { openNotebook } from './interactiveWindows.ts';
import { loadCore } from './lazyCore.ts';
import type { PodSession } from './podSession.ts';

/**
 * What a kernel is for: a notebook, an Interactive Window, or the agent tool (its own kind, under a
 * URI of its own).
 */
export type KernelOwner = Pick<vscode.NotebookDocument, 'uri' | 'notebookType'>;

const agentNotebookType = 'pod-runner-agent';
let agentOwner: KernelOwner | undefined;

/** The agent tool's kernel: one per window, beside the notebooks'. */
export function agentKernelOwner(): KernelOwner {
  agentOwner ??= {
    uri: vscode.Uri.from({ scheme: agentNotebookType, path: '/kernel' }),
    notebookType: agentNotebookType,
  };
  return agentOwner;
}

/** A notebook's kernel, tied to the gateway server it was started on. */
export interface NotebookKernel {
  server: PodJupyterServer;
  kernel: Promise<PodJupyterCodeExecutor>;
  /** The kernel's working directory in the pod, once set (it keeps it across restarts). */
  workingDirectory?: string;
  /** Where the code of the cells run from a `.py` file came from, by execution count. */
  origins: Map<number, CellOrigin>;
  /** The last execution count seen: a lower one means the kernel started again. */
  lastCount: number;
  /** Whose kernel it is: a notebook's, an Interactive Window's or the agent tool's. */
  kind: 'notebook' | 'interactive' | 'agent';
  /** Whether it is recorded for the next window, which may then use it again. */
  recorded: boolean;
}

export interface KernelCounts {
  notebooks: number;
  interactive: number;
  agent: number;
}

function kindOf(owner: KernelOwner): NotebookKernel['kind'] {
  if (owner.notebookType === 'interactive') {
    return 'interactive';
  }
  return owner.notebookType === agentNotebookType ? 'agent' : 'notebook';
}

/**
 * The kernels of a gateway controller's notebooks and Interactive Windows, one per notebook:
 * started (or attached to the one recorded for the notebook), recorded and stopped here.
 */
export class GatewayKernels implements vscode.Disposable {
  private readonly kernels = new Map<string, NotebookKernel>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when a kernel starts or is forgotten. */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly ctx: Pick<Ctx, 'settings' | 'logger' | 'keptPods'>,
    private readonly gateway: PodSession<PodJupyterServer>,
    /** Whether the controller's kernels are recorded (a profile's are not). */
    private readonly keepable: boolean,
  ) {}

  get(notebook: KernelOwner): NotebookKernel | undefined {
    return this.kernels.get(notebook.uri.toString());
  }

  /** The kernels running for notebooks, for Interactive Windows and for the agent tool. */
  get counts(): KernelCounts {
    const entries = [...this.kernels.values()];
    const count = (kind: NotebookKernel['kind']) =>
      entries.filter((entry) => entry.kind === kind).length;
    return {
      notebooks: count('notebook'),
      interactive: count('interactive'),
      agent: count('agent'),
    };
  }

  /** Forgets every kernel and returns them, for a stop of the gateway to end or detach. */
  takeAll(): NotebookKernel[] {
    const kernels = [...this.kernels.values()];
    this.kernels.clear();
    this.changed.fire();
    return kernels;
  }

  dispose(): void {
    this.changed.dispose();
  }

  /** The notebook's kernel on the running gateway server; starts either when needed. */
  async kernelFor(notebook: KernelOwner): Promise<NotebookKernel> {
    const key = notebook.uri.toString();
    const server = await this.gateway.ensureStarted();
    if (server !== this.gateway.running) {
      throw cancellationError('the kernel pod was stopped');
    }
    // Closed while the gateway started: a kernel started now would be nobody's, for good.
    if (notebook.notebookType !== agentNotebookType && !openNotebook(notebook.uri)) {
      throw cancellationError('the notebook was closed');
    }
    let entry = this.kernels.get(key);
    if (entry?.server !== server) {
      // A kernel on a server that is gone is of no use: start one on the running server.
      if (entry) {
        void this.stopKernel(entry);
      }
      const started: NotebookKernel = {
        server,
        kernel: this.kernelOn(server, notebook),
        origins: new Map(),
        lastCount: 0,
        kind: kindOf(notebook),
        recorded: this.recorded(notebook),
      };
      // A kernel that failed to start is forgotten, so the next cell tries again.
      started.kernel.catch(() => {
        if (this.kernels.get(key) === started) {
          this.kernels.delete(key);
          this.changed.fire();
        }
      });
      this.kernels.set(key, started);
      this.changed.fire();
      entry = started;
    }
    await entry.kernel;
    return entry;
  }

  /**
   * The notebook's kernel on `server`: the one recorded for it when it still runs there (its
   * variables intact), else a new one, recorded for the notebook.
   */
  private async kernelOn(
    server: PodJupyterServer,
    document: KernelOwner,
  ): Promise<PodJupyterCodeExecutor> {
    const notebook = document.uri.toString();
    const recorded = this.recorded(document)
      ? await this.ctx.keptPods.recordedKernels(notebook, server.podName, server.notebookKernels)
      : [];
    const { ExecutorStateError } = await loadCore();
    for (const kept of recorded) {
      try {
        const attached = await this.startKernel(server, kept);
        // Both records name it now (the pod's may have been the only one).
        await this.recordKernel(document, server, attached);
        return attached;
      } catch (error) {
        // Only a kernel the server does not have is gone; any other failure may leave it running.
        if (!(error instanceof ExecutorStateError)) {
          throw error;
        }
        this.ctx.logger.info(
          `kernel ${kept.kernelId} kept for ${notebook} is gone: ${error.message}`,
        );
      }
    }
    if (recorded.length > 0) {
      const message = `the kernel kept for ${notebook} is gone: a new kernel starts, without the earlier variables`;
      this.ctx.logger.warn(message);
      void vscode.window.showWarningMessage(`Pod Runner: ${message}`);
    }
    const started = await this.startKernel(server);
    await this.recordKernel(document, server, started);
    return started;
  }

  /**
   * Whether the notebook's kernel is recorded for the next window: a profile's kernels are not
   * (the notebook's record is its default kernel's), nor an Interactive Window's (untitled, it
   * is gone with the window).
   */
  recorded(notebook: KernelOwner): boolean {
    return this.keepable && notebook.notebookType === 'jupyter-notebook';
  }

  /** Records `notebook`'s kernel for the next window, where its kernels are recorded. */
  async recordKernel(
    notebook: KernelOwner,
    server: PodJupyterServer,
    kernel: PodJupyterCodeExecutor,
  ): Promise<void> {
    if (this.recorded(notebook)) {
      await this.ctx.keptPods.recordKernel(
        notebook.uri.toString(),
        { gateway: server.podName, kernelId: kernel.kernelId!, sessionId: kernel.sessionId! },
        server.notebookKernels,
      );
    }
  }

  /** Starts a kernel on `server`, or attaches to the `kept` one, in its Jupyter session. */
  private async startKernel(
    server: PodJupyterServer,
    kept?: KeptKernel,
  ): Promise<PodJupyterCodeExecutor> {
    const settings = this.ctx.settings;
    const { PodJupyterCodeExecutor } = await loadCore();
    const executor = new PodJupyterCodeExecutor(server, {
      ...(kept ? { kernelId: kept.kernelId, sessionId: kept.sessionId } : {}),
      kernelName: settings.kernelName,
      timeout: settings.timeout,
      logger: this.ctx.logger,
      onInput: async (prompt, password) =>
        (await vscode.window.showInputBox({ prompt, password, ignoreFocusOut: true })) ?? '',
    });
    await executor.start();
    return executor;
  }

  async closeKernel(notebook: KernelOwner): Promise<void> {
    const key = notebook.uri.toString();
    const entry = this.kernels.get(key);
    this.kernels.delete(key);
    if (entry) {
      this.changed.fire();
      if (this.recorded(notebook)) {
        const server = entry.server.isRunning ? entry.server : undefined;
        await this.ctx.keptPods.forgetKernel(key, server?.notebookKernels);
      }
      await this.stopKernel(entry);
    }
  }

  /**
   * Stops a kernel once it has started, or only closes its connection when not `remove` (it runs
   * on for the next window); never rejects (a failure is logged).
   */
  async stopKernel(entry: NotebookKernel, remove = true): Promise<void> {
    try {
      const kernel = await entry.kernel.catch(() => undefined);
      await (remove ? kernel?.stop() : kernel?.detach());
    } catch (error) {
      this.ctx.logger.warn(`could not stop a kernel: ${(error as Error).message}`);
    }
  }
}
