import * as vscode from 'vscode';
import { resourceRequirements } from '../core/settings.ts';
import type {
  PodCommandLineCodeExecutor,
  CodeBlock,
  CommandLineCodeResult,
  OutputChunk,
} from '../core/index.ts';
import { unlessAborted } from './cancellation.ts';
import { clusterTargetOf } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { PodStateHolder } from './podState.ts';
import { withPodStartProgress } from './podStartProgress.ts';

/** The window's executor pod: started lazily with progress, reused by every run, deleted on dispose. */
export class ExecutorSession implements vscode.Disposable {
  private executor: PodCommandLineCodeExecutor | undefined;
  private starting: Promise<PodCommandLineCodeExecutor> | undefined;
  private runningBlocks = 0;
  readonly status = new PodStateHolder();

  constructor(private readonly ctx: Pick<Ctx, 'settings' | 'logger' | 'podLabels' | 'leftovers'>) {}

  /** The running executor, if its pod is up. */
  get running(): PodCommandLineCodeExecutor | undefined {
    return this.executor?.isRunning ? this.executor : undefined;
  }

  get podName(): string | undefined {
    return this.executor?.podName;
  }

  get namespace(): string | undefined {
    return this.executor?.namespace;
  }

  /** The running executor, starting its pod (with a progress notification) when needed. */
  ensureStarted(): Promise<PodCommandLineCodeExecutor> {
    if (this.executor?.isRunning) {
      return Promise.resolve(this.executor);
    }
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async start(): Promise<PodCommandLineCodeExecutor> {
    const settings = this.ctx.settings;
    const resources = resourceRequirements(settings.resources);
    const { PodCommandLineCodeExecutor } = await loadCore();
    const executor = new PodCommandLineCodeExecutor({
      ...clusterTargetOf(settings),
      image: settings.image,
      ...(settings.podSpec !== undefined ? { podSpec: settings.podSpec } : {}),
      ...(settings.volume !== undefined ? { volume: settings.volume } : {}),
      workspacePath: settings.workspacePath,
      timeout: settings.timeout,
      startupTimeout: settings.startupTimeout,
      autoRemove: settings.autoRemove,
      labels: { ...settings.labels, ...this.ctx.podLabels },
      ...(resources ? { resources } : {}),
      logger: this.ctx.logger,
    });
    await withPodStartProgress(
      this.status,
      `Pod Runner: starting pod ${executor.podName}`,
      (options) => executor.start(options),
    );
    this.executor = executor;
    this.status.set('ready');
    this.ctx.leftovers.afterPodStart();
    return executor;
  }

  async run(
    blocks: CodeBlock[],
    options: { signal?: AbortSignal; onOutput?: (chunk: OutputChunk) => void },
  ): Promise<CommandLineCodeResult> {
    const started = this.ensureStarted();
    const executor = options.signal ? await unlessAborted(started, options.signal) : await started;
    this.runningBlocks++;
    this.status.set('busy');
    try {
      return await executor.executeCodeBlocks(blocks, options);
    } finally {
      this.runningBlocks--;
      if (this.runningBlocks === 0 && this.executor === executor) {
        this.status.set('ready');
      }
    }
  }

  get isBusy(): boolean {
    return this.runningBlocks > 0;
  }

  async restart(): Promise<void> {
    const executor = await this.ensureStarted();
    this.status.set('starting');
    await executor.restart();
    this.status.set('ready');
  }

  /** Deletes the pod when this window owns it and autoRemove is on. */
  async stop(force = false): Promise<void> {
    const executor = this.executor;
    this.executor = undefined;
    if (executor) {
      if (force || this.ctx.settings.autoRemove) {
        await executor.stop();
      } else {
        await executor[Symbol.asyncDispose]();
      }
    }
    this.status.set('none');
  }

  dispose(): void {
    void this.stop();
    this.status.dispose();
  }
}
