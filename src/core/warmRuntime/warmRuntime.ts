import {
  planCodeBlock,
  runCodeBlock,
  type ExecuteOptions,
  type ExecutorContainer,
} from '../codeBlockRun.ts';
import type { CodeBlock, CommandLineCodeResult } from '../codeBlocks.ts';
import { idleCheckSeconds } from '../idleStop.ts';
import type { Logger } from '../logger.ts';
import { RuntimeStream, RuntimeUnavailableError, type RuntimeTarget } from './runtimeStream.ts';
import { NotRunError, runWarmBlock, type WarmOutcome, type WarmRequest } from './warmBlockRun.ts';
import { runWarmProgram } from './warmProgramRun.ts';
import type { ProgramIo } from '../workspaceSync/podProgramRunner.ts';

export interface WarmRuntimeOptions {
  /** False: every block takes the exec path. */
  enabled: boolean;
  logger: Logger;
  /**
   * The pod's idle stop (0: none): the stream closes after a tenth of it without a block, so the
   * runtime, a process of its own, does not keep the pod from being seen idle.
   */
  podIdleSeconds: number;
}

const maxAttempts = 3;

/**
 * Runs an executor's blocks on one long-lived warm runtime in its pod (runtimeProgram.ts),
 * started on first use and opened again when its stream was lost. Where the runtime cannot start
 * (an image without Python), it says so once and every block takes the exec path
 * (codeBlockRun.ts), as does a block whose stream could not open at all (that path waits for an
 * unreachable API server).
 */
export class WarmRuntime {
  private stream: RuntimeStream | undefined;
  private unavailable: boolean;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly target: RuntimeTarget,
    private readonly options: WarmRuntimeOptions,
  ) {
    this.unavailable = !options.enabled;
  }

  async runCodeBlock(
    pod: ExecutorContainer,
    block: CodeBlock,
    options: ExecuteOptions,
    onCodeFile?: (codeFile: string) => void,
  ): Promise<CommandLineCodeResult> {
    const plan = planCodeBlock(pod, block);
    if (!('body' in plan)) {
      return plan;
    }
    const request: WarmRequest = {
      workspace: pod.workspacePath,
      name: plan.filename,
      dir: options.cwd ?? '',
      roots: options.importRoots ?? [],
      remove: plan.removeAfter,
      inProcess: plan.runtime.name === 'python',
      interpreters: plan.runtime.interpreters,
    };
    const outcome = await this.runOnStream(pod, request, plan.body, options, () =>
      onCodeFile?.(plan.codeFile),
    );
    if (!outcome) {
      return runCodeBlock(pod, block, options, onCodeFile);
    }
    const { ranCode, ...result } = outcome;
    return ranCode ? { ...result, codeFile: plan.codeFile } : result;
  }

  /**
   * Runs a file already in the pod in place (`request.file`): on the runtime when it is up, else
   * through `viaExec`, its exec-path run with the same results.
   */
  async runFile(
    pod: ExecutorContainer,
    request: WarmRequest,
    options: ExecuteOptions,
    viaExec: () => Promise<WarmOutcome>,
  ): Promise<WarmOutcome> {
    return (await this.runOnStream(pod, request, Buffer.alloc(0), options)) ?? viaExec();
  }

  /**
   * Runs a Python program in a fork of the runtime (the workspace sync's, warmProgramRun.ts).
   * Undefined when the runtime is off or cannot be reached, or its stream ended before the
   * program was told to run: nothing of it ran, and an exec may run it instead.
   */
  async runProgram(
    pod: ExecutorContainer,
    program: { code: string; args: string[]; title: string },
    io: ProgramIo,
  ): Promise<{ exitCode: number } | undefined> {
    const stream = await this.openOrNot(pod);
    if (!stream) {
      return undefined;
    }
    try {
      return await runWarmProgram(stream, program.code, program.args, program.title, io);
    } catch (error) {
      if (error instanceof NotRunError) {
        return undefined;
      }
      throw error;
    } finally {
      this.closeWhenIdle(stream);
    }
  }

  /** Undefined when the runtime is off or cannot be reached: the exec path runs it instead. */
  private async runOnStream(
    pod: ExecutorContainer,
    request: WarmRequest,
    body: Buffer,
    options: ExecuteOptions,
    onStart?: () => void,
  ): Promise<WarmOutcome | undefined> {
    // A block whose stream ended before it was told to run ran nothing: it goes on a new one
    // (a few times: a runtime that keeps ending is no place for it).
    for (let attempt = 1; ; attempt++) {
      const stream = await this.openOrNot(pod);
      if (!stream) {
        return undefined;
      }
      onStart?.();
      try {
        return await runWarmBlock(stream, pod, request, body, options);
      } catch (error) {
        if (!(error instanceof NotRunError) || this.closed || attempt === maxAttempts) {
          throw error instanceof NotRunError ? error.lost : error;
        }
      } finally {
        this.closeWhenIdle(stream);
      }
    }
  }

  /** The open stream, opened when needed; undefined when the runtime is off or cannot run. */
  private async openOrNot(pod: ExecutorContainer): Promise<RuntimeStream | undefined> {
    if (this.unavailable || this.closed) {
      return undefined;
    }
    clearTimeout(this.idleTimer);
    try {
      return await this.open(pod);
    } catch (error) {
      if (error instanceof RuntimeUnavailableError && !this.unavailable) {
        this.unavailable = true;
        this.options.logger.info(
          `the warm runtime cannot run in pod ${this.target.pod} (${error.message}): every block runs in an exec of its own`,
        );
      }
      return undefined;
    }
  }

  /** Closes the stream: the runtime kills whatever still runs and exits. */
  close(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.stream?.close();
    this.stream = undefined;
  }

  private open(pod: ExecutorContainer): Promise<RuntimeStream> {
    if (!this.stream || this.stream.isEnded) {
      this.stream = new RuntimeStream(this.target, () => pod.connection.reached());
    }
    const stream = this.stream;
    return stream.ready.then(() => stream);
  }

  private closeWhenIdle(stream: RuntimeStream): void {
    if (this.options.podIdleSeconds === 0 || stream.blockCount > 0 || stream !== this.stream) {
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => {
        if (this.stream === stream && stream.blockCount === 0) {
          stream.close();
          this.stream = undefined;
        }
      },
      idleCheckSeconds(this.options.podIdleSeconds) * 1000,
    );
    this.idleTimer.unref();
  }
}
