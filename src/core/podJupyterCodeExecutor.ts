import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CodeBlock } from './codeBlocks.ts';
import { ExecutorStateError, KernelConnectionError, OptionError } from './errors.ts';
import type {
  JupyterCodeResult,
  JupyterConnectionProvider,
  JupyterExecuteOptions,
  PodJupyterCodeExecutorOptions,
} from './jupyterExecutorOptions.ts';
import type { PodJupyterConnectionInfo } from './jupyterConnection.ts';
import { blockExitCode } from './jupyterBlockOutcome.ts';
import {
  KernelChannel,
  KernelDiedError,
  type ExecuteRequestOptions,
  type ExecutionReply,
} from './jupyterKernelClient.ts';
import type { KernelOutputEvent } from './jupyterMessages.ts';
import { JupyterRestClient } from './jupyterRestClient.ts';
import { renderMime } from './kernelOutputFiles.ts';
import { settleKernelRecord } from './kernelRecordSettle.ts';
import { WorkingDirectoryKeeper } from './kernelWorkingDirectory.ts';
import { silentLogger, type Logger } from './logger.ts';
import { OutputCollector } from './outputCollector.ts';

export type {
  JupyterCodeResult,
  JupyterConnectionProvider,
  JupyterExecuteOptions,
  PodJupyterCodeExecutorOptions,
} from './jupyterExecutorOptions.ts';

/** Sends one block's request on the channel (or follows one sent before). */
type BlockRequest = (
  channel: KernelChannel,
  request: ExecuteRequestOptions,
) => Promise<ExecutionReply>;

/** How long a cell may go on after its interrupt before it is abandoned. */
const interruptGraceMs = 15_000;

/** A stateful Python kernel on a Jupyter server (or kernel gateway), fed code blocks over its WebSocket. */
export class PodJupyterCodeExecutor implements AsyncDisposable {
  readonly kernelName: string;
  readonly timeout: number;
  readonly maxOutputBytes: number;
  private readonly logger: Logger;
  private rest: JupyterRestClient | undefined;
  private channel: KernelChannel | undefined;
  private outputDir: string | undefined;
  private ownsOutputDir = false;
  private kernelDied = false;
  private starting: Promise<void> | undefined;
  private restarting: Promise<void> | undefined;
  private readonly workingDirectory = new WorkingDirectoryKeeper();
  /** Cells of this executor in the kernel now: a request sent meanwhile waits behind them. */
  private cellsRunning = 0;

  constructor(
    private readonly server: PodJupyterConnectionInfo | JupyterConnectionProvider,
    private readonly options: PodJupyterCodeExecutorOptions = {},
  ) {
    this.kernelName = options.kernelName ?? 'python3';
    this.timeout = options.timeout ?? 60;
    if (!Number.isFinite(this.timeout) || this.timeout < 1) {
      throw new OptionError(
        'timeout',
        `must be a number of at least 1, got ${String(options.timeout)}`,
      );
    }
    this.maxOutputBytes = options.maxOutputBytes ?? 10 * 1024 * 1024;
    if (!Number.isFinite(this.maxOutputBytes) || this.maxOutputBytes < 1) {
      throw new OptionError(
        'maxOutputBytes',
        `must be a number of at least 1, got ${String(options.maxOutputBytes)}`,
      );
    }
    this.logger = options.logger ?? silentLogger;
  }

  /** The kernel in use: the one started, or the one attached to; undefined until start(). */
  get kernelId(): string | undefined {
    return this.channel?.kernelId;
  }

  /** The Jupyter session of the kernel connection; undefined until start(). */
  get sessionId(): string | undefined {
    return this.channel?.session;
  }

  get outputDirectory(): string | undefined {
    return this.outputDir;
  }

  /**
   * Waits for the server's kernelspecs, checks the kernel exists, starts a kernel (or attaches to
   * `kernelId`) and enters the working directory set before. All or nothing: when a step fails, a
   * kernel it started is deleted and a later start() begins afresh.
   */
  async start(): Promise<void> {
    if (this.channel) {
      return;
    }
    this.starting ??= this.startKernel().finally(() => (this.starting = undefined));
    await this.starting;
  }

  private async startKernel(): Promise<void> {
    const info = 'connect' in this.server ? await this.server.connect() : this.server;
    const rest = new JupyterRestClient(info, this.options.fetch);
    const specs = await rest.waitForKernelSpecs(this.timeout * 1000);
    if (!(this.kernelName in specs.kernelspecs)) {
      throw new OptionError(
        'kernelName',
        `kernel "${this.kernelName}" is not installed on the server (available: ${Object.keys(specs.kernelspecs).join(', ')})`,
      );
    }
    const attachTo = this.options.kernelId;
    if (attachTo !== undefined && !(await rest.kernelAlive(attachTo))) {
      throw new ExecutorStateError(`kernel ${attachTo} is not running on the server`);
    }
    if (this.options.outputDir) {
      await mkdir(this.options.outputDir, { recursive: true });
      this.outputDir = this.options.outputDir;
    } else {
      this.outputDir ??= await mkdtemp(join(tmpdir(), 'pod-runner-outputs-'));
      this.ownsOutputDir = true;
    }
    const kernelId = attachTo ?? (await rest.startKernel(this.kernelName));
    const channel = this.openChannel(rest, kernelId);
    try {
      await this.workingDirectory.ensure(channel, this.timeout * 1000);
      if (attachTo === undefined) {
        await settleKernelRecord(rest, channel, this.timeout * 1000, this.logger);
      }
    } catch (error) {
      channel.close();
      if (attachTo !== undefined) {
        throw error;
      }
      await rest
        .deleteKernel(kernelId)
        .catch((failure: unknown) =>
          this.logger.warn(
            `could not delete kernel ${kernelId} after a failed start: ${(failure as Error).message}`,
          ),
        );
      throw error;
    }
    this.rest = rest;
    this.channel = channel;
    this.kernelDied = false;
    this.logger.info(
      `${attachTo === undefined ? 'started' : 'attached to'} kernel ${kernelId} (${this.kernelName})`,
    );
  }

  private openChannel(rest: JupyterRestClient, kernelId: string): KernelChannel {
    return new KernelChannel(rest.info, kernelId, {
      ...(this.options.sessionId !== undefined ? { session: this.options.sessionId } : {}),
      logger: this.logger,
      ...(this.options.webSocketFactory ? { webSocketFactory: this.options.webSocketFactory } : {}),
      ...(this.options.livenessIntervalMs
        ? { livenessIntervalMs: this.options.livenessIntervalMs }
        : {}),
    });
  }

  /**
   * Makes `remoteDir` the kernel's working directory and puts `importRoots` first on sys.path:
   * now (once started) and again after every restart (the executor's, or the server's own after
   * the kernel died) and replaced kernel, silently (no output in any cell, no execution count),
   * so `open('input.csv')` next to a synced notebook works. While a cell runs, the change waits
   * behind it. Rejected when the kernel cannot enter the folder (ExecutorStateError: the previous
   * directory stays); after any other failure the new directory is entered before the next cell.
   */
  async setWorkingDirectory(
    remoteDir: string,
    options: { importRoots?: string[] } = {},
  ): Promise<void> {
    const where = { directory: remoteDir, importRoots: options.importRoots ?? [] };
    // Sent during a restart, the change could reach the old process: it follows the restart.
    await this.restarting?.catch(() => undefined);
    await this.workingDirectory.set(this.channel, where, this.setUpDeadlineMs());
  }

  /**
   * The executor's own requests wait for the kernel's answer up to the block timeout, but not while
   * a cell runs: they queue behind it, and the cell's own timeout bounds the wait.
   */
  private setUpDeadlineMs(): number | undefined {
    return this.cellsRunning > 0 ? undefined : this.timeout * 1000;
  }

  /** Runs the blocks in the kernel, in order, stopping at the first error. */
  async executeCodeBlocks(
    blocks: CodeBlock[],
    options: JupyterExecuteOptions = {},
  ): Promise<JupyterCodeResult> {
    if (blocks.length === 0) {
      throw new OptionError('blocks', 'no code blocks to execute');
    }
    return this.runBlocks(
      blocks.map(
        ({ code }) =>
          (channel, request) =>
            channel.execute(code, request),
      ),
      options,
    );
  }

  /**
   * Follows a block an earlier executor sent (`onSent` gave its id) on this kernel and session
   * (start with its `kernelId` and `sessionId`), which may still run, as executeCodeBlocks() would
   * have: its output from while no executor was connected (the server kept it), the rest, its
   * result. It is not run again.
   */
  async resume(requestId: string, options: JupyterExecuteOptions = {}): Promise<JupyterCodeResult> {
    return this.runBlocks([(channel, request) => channel.follow(requestId, request)], options);
  }

  private async runBlocks(
    blocks: BlockRequest[],
    options: JupyterExecuteOptions,
  ): Promise<JupyterCodeResult> {
    const collector = new OutputCollector(this.maxOutputBytes);
    const outputFiles: string[] = [];
    for (const block of blocks) {
      // Blocks' outputs are separated by a newline, as if joined.
      let blockIsEmpty = true;
      const write = (text: string) => {
        if (text && blockIsEmpty && !collector.isEmpty) {
          collector.note('\n');
        }
        blockIsEmpty &&= !text;
        collector.pushText('stdout', text);
      };
      const exitCode = await this.runBlock(block, options, write, outputFiles);
      if (exitCode !== 0) {
        return { exitCode, output: collector.finish(), outputFiles };
      }
    }
    return { exitCode: 0, output: collector.finish(), outputFiles };
  }

  /** Runs one block, writing its output through `write`; resolves with its exit code. */
  private async runBlock(
    send: BlockRequest,
    options: JupyterExecuteOptions,
    write: (text: string) => void,
    files: string[],
  ): Promise<number> {
    const { channel, outputDir } = this;
    if (!channel || !outputDir) {
      throw new ExecutorStateError('the Jupyter executor is not running: call start() first');
    }
    if (options.signal?.aborted) {
      write('Code execution was cancelled.');
      return 1;
    }
    // After the server restarted a dead kernel (or a change that got no answer), the working
    // directory is entered again before the cell.
    await this.workingDirectory.ensure(channel, this.setUpDeadlineMs());
    const saves: Promise<void>[] = [];
    let error: Extract<KernelOutputEvent, { type: 'error' }> | undefined;
    const onEvent = (event: KernelOutputEvent) => {
      options.onOutput?.(event);
      if (event.type === 'stream') {
        write(event.text);
      } else if (event.type === 'execute_result' || event.type === 'display_data') {
        for (const [mime, value] of Object.entries(event.data)) {
          write(renderMime(outputDir, mime, value, files, saves));
        }
      } else if (event.type === 'error') {
        error = event;
      }
    };
    this.cellsRunning++;
    const execution = send(channel, {
      onEvent,
      ...(this.options.onInput ? { onInput: this.options.onInput } : {}),
      ...(options.onSent ? { onSent: options.onSent } : {}),
    });
    // Raced below: when the cell is abandoned, its late failure is not an unhandled rejection.
    execution.catch(() => undefined);
    let stopReason: 'timeout' | 'cancelled' | undefined;
    // A kernel that does not answer even after the interrupt (its request was lost) must not
    // hold the cell forever: give up on it after a grace period.
    let giveUpTimer: NodeJS.Timeout | undefined;
    let giveUp: (error: Error) => void = () => undefined;
    const unanswered = new Promise<never>((_, reject) => (giveUp = reject));
    const stop = (reason: 'timeout' | 'cancelled') => {
      stopReason ??= reason;
      giveUpTimer ??= setTimeout(
        () =>
          giveUp(
            new KernelConnectionError(
              `the kernel did not answer within ${interruptGraceMs / 1000} s of the interrupt`,
            ),
          ),
        interruptGraceMs,
      );
    };
    const timer = setTimeout(() => void this.interruptFor('timeout', stop), this.timeout * 1000);
    const onAbort = () => void this.interruptFor('cancelled', stop);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) {
      onAbort();
    }
    let reply: ExecutionReply | undefined;
    try {
      reply = await Promise.race([execution, unanswered]);
    } catch (failure) {
      if (failure instanceof KernelConnectionError && giveUpTimer) {
        channel.failPending(failure);
        channel.dropConnection();
      }
      if (failure instanceof KernelDiedError) {
        this.kernelDied = true;
        write(`ERROR: ${failure.message}`);
        return 1;
      }
      throw failure;
    } finally {
      this.cellsRunning--;
      clearTimeout(timer);
      clearTimeout(giveUpTimer);
      options.signal?.removeEventListener('abort', onAbort);
      await Promise.all(saves);
    }
    return blockExitCode(stopReason, reply, error, write);
  }

  private async interruptFor(
    reason: 'timeout' | 'cancelled',
    mark: (reason: 'timeout' | 'cancelled') => void,
  ): Promise<void> {
    mark(reason);
    try {
      await this.interrupt();
    } catch (error) {
      this.logger.warn(`could not interrupt the kernel: ${(error as Error).message}`);
    }
  }

  /** Interrupts the running cell (KeyboardInterrupt in Python); the kernel stays usable. */
  async interrupt(): Promise<void> {
    const { rest, channel } = this.requireRunning();
    await rest.interruptKernel(channel.kernelId);
  }

  /**
   * Restarts the kernel: its state is lost, the executor keeps working. After the kernel died, a
   * new kernel replaces it (the server's own restarter may still be restarting the dead one).
   */
  async restart(): Promise<void> {
    const restarting = this.restartKernel();
    this.restarting = restarting;
    try {
      await restarting;
    } finally {
      if (this.restarting === restarting) {
        this.restarting = undefined;
      }
    }
  }

  private async restartKernel(): Promise<void> {
    const { rest, channel } = this.requireRunning();
    channel.failPending(new KernelDiedError('the kernel was restarted'));
    this.workingDirectory.invalidate();
    let current = channel;
    if (this.kernelDied) {
      channel.close();
      await rest
        .deleteKernel(channel.kernelId)
        .catch((error: unknown) =>
          this.logger.warn(`could not delete the dead kernel: ${(error as Error).message}`),
        );
      const kernelId = await rest.startKernel(this.kernelName);
      current = this.openChannel(rest, kernelId);
      this.channel = current;
      this.kernelDied = false;
      this.logger.info(`replaced the dead kernel with ${kernelId}`);
    } else {
      await rest.restartKernel(channel.kernelId);
      await channel.reconnectWhenReady();
    }
    await this.workingDirectory.ensure(current, this.timeout * 1000);
    await settleKernelRecord(rest, current, this.timeout * 1000, this.logger);
  }

  /**
   * Shuts the kernel down, forgets its working directory and removes the default output
   * directory; start() may follow.
   */
  async stop(): Promise<void> {
    await this.release(true);
  }

  /**
   * Closes the connection but leaves the kernel running, its variables intact, for a later
   * executor given its `kernelId`; otherwise as stop(). A cell still running goes on in the kernel.
   */
  async detach(): Promise<void> {
    await this.release(false);
  }

  private async release(shutDown: boolean): Promise<void> {
    const rest = this.rest;
    const channel = this.channel;
    this.rest = undefined;
    this.channel = undefined;
    this.workingDirectory.forget();
    channel?.close();
    if (rest && channel && shutDown) {
      await rest.deleteKernel(channel.kernelId).catch((error: unknown) => {
        if (!(error instanceof KernelConnectionError)) {
          throw error;
        }
        this.logger.warn(`could not shut down kernel ${channel.kernelId}: ${error.message}`);
      });
    }
    if (this.ownsOutputDir && this.outputDir) {
      await rm(this.outputDir, { recursive: true, force: true });
      this.outputDir = undefined;
      this.ownsOutputDir = false;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private requireRunning(): { rest: JupyterRestClient; channel: KernelChannel } {
    if (!this.rest || !this.channel) {
      throw new ExecutorStateError('the Jupyter executor is not running: call start() first');
    }
    return { rest: this.rest, channel: this.channel };
  }
}
