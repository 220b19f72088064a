import * as vscode from 'vscode';
import type {
  CellOrigin,
  JupyterCodeResult,
  KernelOutputEvent,
  OutputStream,
  PodJupyterCodeExecutor,
  PodJupyterServer,
} from '../core/index.ts';
import { cancellationError, unlessAborted } from './cancellation.ts';
import { CellOutputWriter } from './cellOutputWriter.ts';
import { NotebookCellQueues } from './cellQueue.ts';
import { readCleanupSettings } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { IdleStopCheck } from './idleStopCheck.ts';
import { PodSession } from './podSession.ts';
import { createServer } from './gatewayServer.ts';
import { summary } from './profilePods.ts';
import { StreamLineMappers } from './lineMapper.ts';
import { writeMapped } from './kernelOutput.ts';
import type { PodStateHolder } from './podState.ts';
import { codeHashOf, recordedCell } from './runningCell.ts';
import { remoteFolderOf } from './workspaceSync.ts';
import { interactiveSuffix, kernelControllerId } from './controllerIds.ts';
import { cellOriginOf } from './interactiveWindows.ts';
import {
  agentKernelOwner,
  GatewayKernels,
  type KernelCounts,
  type NotebookKernel,
} from './gatewayKernels.ts';

type KernelCtx = Pick<
  Ctx,
  | 'settings'
  | 'logger'
  | 'podLabels'
  | 'leftovers'
  | 'keptPods'
  | 'workspaceSync'
  | 'output'
  | 'profiles'
  | 'interactive'
>;

/**
 * "Kubernetes kernel (Jupyter gateway pod)": one gateway pod per window, started lazily, one
 * kernel per notebook. Rich outputs, display updates, clear_output, errors in the cell; a
 * cancelled cell interrupts the kernel. Its pod follows the window's profile; a profile's own
 * controller ("Kubernetes kernel — gpu-large", `profile` given) always uses that profile.
 */
export class KernelController implements vscode.Disposable {
  /** The same kernels for notebooks and for Interactive Windows. */
  private readonly controllers: vscode.NotebookController[];
  private readonly gateway: PodSession<PodJupyterServer>;
  /** One kernel per open notebook, by notebook URI; removed when the notebook closes. */
  private readonly kernels: GatewayKernels;
  private readonly queues: NotebookCellQueues;
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Set when the window leaves its kernels running: their cells' requests stay recorded. */
  private detached = false;
  /**
   * Whether cleanupPolicy `keep` leaves this controller's gateway for the next window: the
   * default kernel's only (a profile's gateway is not recorded, so it is deleted on close).
   */
  private readonly keepable: boolean;
  private readonly idle = new IdleStopCheck();

  constructor(
    private readonly ctx: KernelCtx,
    profile?: string,
  ) {
    this.keepable = profile === undefined;
    const id =
      profile === undefined ? kernelControllerId : `${kernelControllerId}-profile-${profile}`;
    const label =
      profile === undefined
        ? 'Kubernetes kernel (Jupyter gateway pod)'
        : `Kubernetes kernel — ${profile}`;
    this.controllers = [
      vscode.notebooks.createNotebookController(id, 'jupyter-notebook', label),
      vscode.notebooks.createNotebookController(`${id}${interactiveSuffix}`, 'interactive', label),
    ];
    this.gateway = new PodSession({
      kind: profile === undefined ? 'kernel pod' : `kernel pod (profile ${profile})`,
      create: () => createServer(ctx, this.gateway.status, profile),
      isRunning: (server) => server.isRunning,
      afterStart: () => {
        const name = this.gateway.running?.podName;
        if (name && this.keepable) {
          void ctx.keptPods.recordPod('gateway', name);
        }
        ctx.leftovers.afterPodStart();
      },
    });
    this.kernels = new GatewayKernels(ctx, this.gateway, this.keepable);
    const own =
      profile === undefined
        ? undefined
        : ctx.settings.profiles.find((candidate) => candidate.name === profile);
    for (const controller of this.controllers) {
      controller.description = 'A stateful Python kernel in a Jupyter kernel gateway pod';
      controller.detail = own && summary(own);
      controller.supportedLanguages = ['python'];
      controller.supportsExecutionOrder = true;
    }
    // Cancelling a cell aborts its signal; the executor turns that into a kernel interrupt
    // once the code runs. (An interruptHandler would replace the cells' cancellation tokens.)
    this.queues = new NotebookCellQueues(this.controllers, (cell, execution, signal) =>
      this.runCell(cell, execution, signal),
    );
    // The Interactive Window's toolbar offers only Interrupt, which needs a handler: it stops the
    // running cell (a kernel interrupt) and the cells queued behind it, as Jupyter's does.
    this.controllers[1]!.interruptHandler = (notebook) => this.queues.cancel(notebook);
    // A cell that ran when the last window closed is followed again once its notebook is here.
    this.controllers[0]!.onDidChangeSelectedNotebooks(
      ({ notebook, selected }) => selected && this.resumeRunningCell(notebook),
      null,
      this.subscriptions,
    );
    // Stopping the gateway pod (or cancelling its start) cancels every notebook's cells.
    this.gateway.onDidStop(() => this.queues.cancelAll(), null, this.subscriptions);
    vscode.workspace.onDidCloseNotebookDocument(
      (notebook) => void this.kernels.closeKernel(notebook),
      null,
      this.subscriptions,
    );
  }

  get status(): PodStateHolder {
    return this.gateway.status;
  }

  /** Whether this controller runs a kernel for the notebook. */
  hasKernel(notebook: vscode.NotebookDocument): boolean {
    return this.kernels.get(notebook) !== undefined;
  }

  /** Fires when a kernel starts or stops. */
  get onDidChangeKernels(): vscode.Event<void> {
    return this.kernels.onDidChange;
  }

  /** The kernels running for this window's notebooks and Interactive Windows. */
  get kernelCounts(): KernelCounts {
    return this.kernels.counts;
  }

  /** The gateway pod's name, once it runs. */
  get podName(): string | undefined {
    return this.gateway.running?.podName;
  }

  /** The running gateway server (for logs and shells), if any. */
  get runningServer(): PodJupyterServer | undefined {
    return this.gateway.running;
  }

  /**
   * Runs the agent tool's Python on its own kernel in the gateway pod, the first open folder
   * synced and its root the working directory; output events go to `onOutput`, pod paths mapped.
   */
  async runAgentCode(
    code: string,
    signal: AbortSignal,
    onOutput: (event: KernelOutputEvent) => void,
  ): Promise<JupyterCodeResult> {
    const entry = await unlessAborted(this.kernels.kernelFor(agentKernelOwner()), signal);
    const kernel = await entry.kernel;
    const { remoteToLocal } = await loadCore();
    try {
      return await this.gateway.use(entry.server, async () => {
        const folder = vscode.workspace.workspaceFolders?.[0];
        if (folder) {
          await this.syncNotebookFolder(folder.uri, entry, kernel, signal);
        }
        const toLocal = (text: string) => remoteToLocal(text, entry.server.syncedFolders);
        const streams = new StreamLineMappers<OutputStream>(toLocal, (name, text) =>
          onOutput({ type: 'stream', name, text }),
        );
        try {
          return await kernel.executeCodeBlocks([{ language: 'python', code }], {
            signal,
            onOutput: (event) => writeMapped(event, streams, toLocal, { write: onOutput }),
          });
        } finally {
          streams.flush();
        }
      });
    } finally {
      this.idle.used();
    }
  }

  /** Starts the gateway pod (with progress) unless it runs already. */
  ensureServer(): Promise<PodJupyterServer> {
    return this.gateway.ensureStarted();
  }

  async restartKernel(notebook: vscode.NotebookDocument): Promise<void> {
    const entry = this.kernels.get(notebook);
    if (entry && entry.server === this.gateway.running) {
      const kernel = await entry.kernel;
      await kernel.restart();
      // A kernel that had died is replaced by a new one, with a new id.
      await this.kernels.recordKernel(notebook, entry.server, kernel);
    }
  }

  /**
   * Cancels every cell and deletes every kernel and the gateway pod, secret and service (when
   * asked to, `force`, or when cleanupPolicy deletes on close); otherwise leaves the gateway and
   * its kernels running for the next window. A start in progress is cancelled first, so nothing
   * waits for it.
   */
  async stop(force = true): Promise<void> {
    const kernels = this.kernels.takeAll();
    const remove =
      force || !this.keepable || readCleanupSettings().cleanupPolicy === 'deleteOnClose';
    if (!remove) {
      // Detached before their cells are cancelled, so no cell is interrupted: each runs on.
      this.detached = true;
      // A kernel no window finds again (an Interactive Window's) is stopped.
      await Promise.all(kernels.map((entry) => this.kernels.stopKernel(entry, !entry.recorded)));
    }
    await this.gateway.close(async (server) => {
      if (!remove) {
        await server[Symbol.asyncDispose]();
        return;
      }
      // The kernels first, while their server answers; those that fail to stop are only logged.
      await Promise.all(kernels.map((entry) => this.kernels.stopKernel(entry)));
      await server.stop();
      if (this.keepable) {
        await this.ctx.keptPods.forgetPod('gateway');
      }
    });
  }

  dispose(): void {
    this.queues.dispose();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.controllers.forEach((controller) => controller.dispose());
    this.gateway.dispose();
    this.kernels.dispose();
  }

  /** Shows the cell the last window left running as running again, with what it outputs. */
  private resumeRunningCell(notebook: vscode.NotebookDocument): void {
    const kept = this.kernels.recorded(notebook)
      ? this.ctx.keptPods.kernelOf(notebook.uri.toString())
      : undefined;
    const running = kept?.running;
    if (!kept || !running) {
      return;
    }
    const key = notebook.uri.toString();
    const resumed = recordedCell(notebook, running);
    if (!resumed) {
      this.ctx.logger.info(
        `the cell of ${key} left running by the last window is not in it any more (its code changed): its output is not followed`,
      );
      void this.ctx.keptPods.recordRunningCell(key, kept.kernelId, undefined);
      return;
    }
    this.ctx.logger.info(
      `following cell ${resumed.index + 1} of ${key}, left running by the last window`,
    );
    try {
      this.queues.resume(resumed, (cell, execution, signal) =>
        this.runCell(cell, execution, signal, { kernelId: kept.kernelId, ...running }),
      );
    } catch (error) {
      this.ctx.logger.warn(`could not follow the cell: ${(error as Error).message}`);
    }
  }

  /**
   * Runs a cell, or with `resumed` follows the request the last window sent for it on that
   * kernel (it may still run): the output the server kept meanwhile, then the rest.
   */
  private async runCell(
    cell: vscode.NotebookCell,
    execution: vscode.NotebookCellExecution,
    signal: AbortSignal,
    resumed?: { kernelId: string; requestId: string },
  ): Promise<boolean> {
    const key = cell.notebook.uri.toString();
    // A gateway unused for its idle timeout may have stopped by itself: this cell then runs on a
    // fresh one, and says so first.
    const stopped = resumed
      ? undefined
      : await this.idle.stoppedSinceUse(
          this.gateway.running,
          this.ctx.settings.idleTimeoutMinutes * 60_000,
        );
    // A cell cancelled while the gateway pod or its kernel starts ends without running.
    const entry = await unlessAborted(this.kernels.kernelFor(cell.notebook), signal);
    const { server } = entry;
    const kernel = await entry.kernel;
    const output = new CellOutputWriter(execution);
    if (stopped) {
      output.write({
        type: 'stream',
        name: 'stderr',
        text: `Pod Runner: ${stopped}; this cell runs on a new kernel pod, without the old one's variables.\n`,
      });
    }
    const { remoteToLocal, mapCellTraceback } = await loadCore();
    const toLocal = (text: string) => remoteToLocal(text, server.syncedFolders);
    const origin = cellOriginOf(cell);
    const streams = new StreamLineMappers<OutputStream>(toLocal, (name, text) =>
      output.write({ type: 'stream', name, text }),
    );
    let result;
    try {
      result = await this.gateway.use(server, async () => {
        const options = {
          signal,
          onOutput: (event: KernelOutputEvent) => {
            if (event.type === 'execute_input' && event.executionCount !== null) {
              noteOrigin(entry, event.executionCount, origin);
            }
            writeMapped(
              event.type === 'error' && entry.origins.size > 0
                ? { ...event, traceback: mapCellTraceback(event.traceback, entry.origins) }
                : event,
              streams,
              toLocal,
              output,
            );
          },
        };
        if (resumed) {
          if (kernel.kernelId !== resumed.kernelId) {
            throw new Error(
              'the kernel this cell ran on when the window closed is gone: run it again',
            );
          }
          return await kernel.resume(resumed.requestId, options);
        }
        // An Interactive Window runs its file's cells: the file's folder is the notebook's.
        const source = this.ctx.interactive.sourceOf(cell.notebook) ?? cell.notebook.uri;
        await this.syncNotebookFolder(source, entry, kernel, signal);
        const code = cell.document.getText();
        return await kernel.executeCodeBlocks([{ language: 'python', code }], {
          ...options,
          onSent: (requestId) =>
            void this.ctx.keptPods.recordRunningCell(key, kernel.kernelId!, {
              cell: cell.index,
              codeHash: codeHashOf(code),
              requestId,
            }),
        });
      });
    } catch (error) {
      // The window left the cell running in the kernel: no outcome here, the next window's.
      if (this.detached) {
        throw cancellationError('the cell was left running');
      }
      // A gateway that stopped when idle is deleted; the next cell starts a new one.
      const reason = await server.removeIfEnded().catch(() => undefined);
      throw reason ? new Error(`${reason}; the next cell starts a new kernel pod`) : error;
    } finally {
      this.idle.used();
      if (!this.detached) {
        void this.ctx.keptPods.recordRunningCell(key, kernel.kernelId!, undefined);
      }
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
    source: vscode.Uri,
    entry: NotebookKernel,
    kernel: PodJupyterCodeExecutor,
    signal: AbortSignal,
  ): Promise<void> {
    const project = await this.ctx.workspaceSync.syncNotebook(
      entry.server,
      source,
      signal,
      (text) => this.ctx.output.write(text),
    );
    if (!project) {
      return;
    }
    const directory = remoteFolderOf(project, source.fsPath);
    if (entry.workingDirectory !== directory) {
      await kernel.setWorkingDirectory(directory, { importRoots: [project.root] });
      entry.workingDirectory = directory;
    }
  }
}

/**
 * Records where the cell run as `count` came from. A count not above the last one means the
 * kernel started again (a restart, or a dead kernel replaced by the server): the cells the
 * earlier counts named are gone.
 */
function noteOrigin(entry: NotebookKernel, count: number, origin: CellOrigin | undefined): void {
  if (count <= entry.lastCount) {
    entry.origins.clear();
  }
  entry.lastCount = count;
  if (origin) {
    entry.origins.set(count, origin);
  }
}
