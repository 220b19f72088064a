import * as vscode from 'vscode';
import {
  PodCommandLineCodeExecutor,
  resourceRequirements,
  type CodeBlock,
  type CommandLineCodeResult,
  type Logger,
  type OutputChunk,
  type PodRunnerSettings,
} from '../core/index.ts';

export type PodState = 'none' | 'starting' | 'ready' | 'busy' | 'error';

/** The window's executor pod: started lazily with progress, reused by every run, deleted on dispose. */
export class ExecutorSession implements vscode.Disposable {
  private executor: PodCommandLineCodeExecutor | undefined;
  private starting: Promise<PodCommandLineCodeExecutor> | undefined;
  private running = 0;
  private readonly stateEmitter = new vscode.EventEmitter<PodState>();
  readonly onDidChangeState = this.stateEmitter.event;
  state: PodState = 'none';
  lastError: Error | undefined;

  constructor(
    private readonly settings: () => PodRunnerSettings,
    private readonly logger: Logger,
  ) {}

  get podName(): string | undefined {
    return this.executor?.podName;
  }

  get namespace(): string | undefined {
    return this.executor?.namespace;
  }

  private setState(state: PodState): void {
    this.state = state;
    this.stateEmitter.fire(state);
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
    const settings = this.settings();
    const resources = resourceRequirements(settings.resources);
    const executor = new PodCommandLineCodeExecutor({
      ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
      ...(settings.context ? { context: settings.context } : {}),
      ...(settings.namespace ? { namespace: settings.namespace } : {}),
      image: settings.image,
      ...(settings.podSpec !== undefined ? { podSpec: settings.podSpec } : {}),
      ...(settings.volume !== undefined ? { volume: settings.volume } : {}),
      workspacePath: settings.workspacePath,
      timeout: settings.timeout,
      startupTimeout: settings.startupTimeout,
      autoRemove: settings.autoRemove,
      labels: settings.labels,
      ...(resources ? { resources } : {}),
      logger: this.logger,
    });
    this.setState('starting');
    try {
      await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Pod Runner: starting pod ${executor.podName}`,
          cancellable: true,
        },
        async (_progress, token) => {
          const controller = new AbortController();
          const listener = token.onCancellationRequested(() => controller.abort());
          try {
            await executor.start(controller.signal);
          } finally {
            listener.dispose();
          }
        },
      );
    } catch (error) {
      this.lastError = error as Error;
      this.setState('error');
      throw error;
    }
    this.executor = executor;
    this.lastError = undefined;
    this.setState('ready');
    return executor;
  }

  async run(
    blocks: CodeBlock[],
    options: { signal?: AbortSignal; onOutput?: (chunk: OutputChunk) => void },
  ): Promise<CommandLineCodeResult> {
    const executor = await this.ensureStarted();
    this.running++;
    this.setState('busy');
    try {
      return await executor.executeCodeBlocks(blocks, options);
    } finally {
      this.running--;
      if (this.running === 0 && this.executor === executor) {
        this.setState('ready');
      }
    }
  }

  get isBusy(): boolean {
    return this.running > 0;
  }

  async restart(): Promise<void> {
    const executor = await this.ensureStarted();
    this.setState('starting');
    await executor.restart();
    this.setState('ready');
  }

  /** Deletes the pod when this window owns it and autoRemove is on. */
  async stop(force = false): Promise<void> {
    const executor = this.executor;
    this.executor = undefined;
    if (executor) {
      if (force || this.settings().autoRemove) {
        await executor.stop();
      } else {
        await executor[Symbol.asyncDispose]();
      }
    }
    this.setState('none');
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
  }
}
