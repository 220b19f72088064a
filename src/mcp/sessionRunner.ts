import {
  PodCommandLineCodeExecutor,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  PodStoppedError,
  type KernelOutputEvent,
  type Logger,
} from '../core/index.ts';
import type { McpServerConfig } from './cliArguments.ts';

export type ToolLanguage = 'python' | 'bash';

export interface RunImage {
  /** Base64, as the kernel sent it. */
  data: string;
  mimeType: string;
}

export interface RunOutcome {
  exitCode: number;
  output: string;
  images: RunImage[];
}

/**
 * Both executors end a block stopped by its timeout with exit code 124 (as GNU timeout does) and
 * this note in its output; code exiting 124 by itself has no note.
 */
export function timedOut(outcome: RunOutcome): boolean {
  return outcome.exitCode === 124 && outcome.output.includes('\n Timeout');
}

const imageTypes = ['image/png', 'image/jpeg'];

/**
 * One MCP session's executor: the pod (and kernel) is started by the first run and deleted by
 * dispose(). Runs wait for each other, so a session's calls never overlap in one pod or kernel.
 */
export abstract class SessionRunner {
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  /** Aborts a start still waiting for its pod when the session ends. */
  protected readonly lifetime = new AbortController();

  constructor(
    protected readonly config: McpServerConfig,
    protected readonly logger: Logger,
  ) {}

  run(language: ToolLanguage, code: string, signal: AbortSignal): Promise<RunOutcome> {
    const next = this.queue.then(async () => {
      if (this.disposed) {
        throw new Error('the MCP session has ended');
      }
      // The client no longer waits for this answer; what matters is that no pod is started.
      if (signal.aborted) {
        return { exitCode: 1, output: 'Code execution was cancelled.', images: [] };
      }
      try {
        return await this.startAndRun(language, code, signal);
      } catch (error) {
        // A pod that stopped by itself when idle is replaced: the code had not run.
        const reason = await this.removeIfEnded(error);
        if (reason === undefined) {
          throw error;
        }
        this.logger.info(`${reason}: starting a fresh one`);
        const outcome = await this.startAndRun(language, code, signal);
        const note = `[${reason}; this ran in a fresh one, without the earlier state]\n`;
        return { ...outcome, output: `${note}${outcome.output}` };
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async startAndRun(
    language: ToolLanguage,
    code: string,
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    // Starts do nothing once running, so a start that failed is simply tried again next time.
    await this.start(this.lifetime.signal);
    const root = this.config.sync === undefined ? undefined : await this.sync(this.config.sync);
    return this.execute(language, code, signal, root);
  }

  /** Deletes the pod (waiting for a start in progress to give up); later runs fail. */
  async dispose(): Promise<void> {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    this.lifetime.abort(new Error('the MCP session has ended'));
    await this.stop();
  }

  protected abstract start(signal: AbortSignal): Promise<void>;
  /** Mirrors the folder into the pod; resolves with its root there. */
  protected abstract sync(localDir: string): Promise<string>;
  protected abstract execute(
    language: ToolLanguage,
    code: string,
    signal: AbortSignal,
    root: string | undefined,
  ): Promise<RunOutcome>;
  protected abstract stop(): Promise<void>;
  /** After a failed run: when the pod had ended by itself, deletes it and says why. */
  protected abstract removeIfEnded(error: unknown): Promise<string | undefined>;
}

/** Pod options both executor types take from the command line. */
function podOptions(config: McpServerConfig, logger: Logger) {
  return {
    logger,
    ...(config.kubeconfig !== undefined && { kubeconfig: config.kubeconfig }),
    ...(config.context !== undefined && { context: config.context }),
    ...(config.namespace !== undefined && { namespace: config.namespace }),
    ...(config.image !== undefined && { image: config.image }),
    ...(config.podName !== undefined && { podName: config.podName }),
    ...(config.workspacePath !== undefined && { workspacePath: config.workspacePath }),
    ...(config.volume !== undefined && { volume: config.volume }),
    ...(config.podSpec !== undefined && { podSpec: config.podSpec }),
    ...(config.command !== undefined && { command: config.command }),
    ...(config.args !== undefined && { args: config.args }),
    ...(config.idleTimeout !== undefined && { idleTimeoutMinutes: config.idleTimeout / 60 }),
  };
}

/** Stateless: each run is a fresh process in one long-lived pod. */
class CommandLineRunner extends SessionRunner {
  private readonly executor = new PodCommandLineCodeExecutor({
    ...podOptions(this.config, this.logger),
    timeout: this.config.timeout,
  });

  protected start(signal: AbortSignal): Promise<void> {
    return this.executor.start({ signal });
  }

  protected async sync(localDir: string): Promise<string> {
    return (await this.executor.syncWorkspace(localDir)).root;
  }

  protected async execute(
    language: ToolLanguage,
    code: string,
    signal: AbortSignal,
    root: string | undefined,
  ): Promise<RunOutcome> {
    const result = await this.executor.executeCodeBlocks([{ language, code }], {
      signal,
      ...(root !== undefined && { cwd: root, importRoots: [root] }),
    });
    return { exitCode: result.exitCode, output: result.output, images: [] };
  }

  protected stop(): Promise<void> {
    return this.executor.stop();
  }

  protected async removeIfEnded(error: unknown): Promise<string | undefined> {
    if (error instanceof PodStoppedError) {
      return error.reason;
    }
    return this.executor.isRunning ? this.executor.removeIfEnded() : undefined;
  }
}

/** Stateful: a kernel on a gateway pod, its variables kept across runs. */
class JupyterRunner extends SessionRunner {
  private readonly server = new PodJupyterServer(podOptions(this.config, this.logger));
  private readonly kernel = new PodJupyterCodeExecutor(this.server, {
    timeout: this.config.timeout,
    logger: this.logger,
  });
  private workingDirectory: string | undefined;

  protected async start(signal: AbortSignal): Promise<void> {
    await this.server.start({ signal });
    await this.kernel.start();
  }

  protected async sync(localDir: string): Promise<string> {
    const { root } = await this.server.syncWorkspace(localDir);
    if (this.workingDirectory !== root) {
      await this.kernel.setWorkingDirectory(root, { importRoots: [root] });
      this.workingDirectory = root;
    }
    return root;
  }

  protected async execute(
    _language: ToolLanguage,
    code: string,
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    const images: RunImage[] = [];
    const onOutput = (event: KernelOutputEvent) => {
      if (event.type !== 'display_data' && event.type !== 'execute_result') {
        return;
      }
      for (const mimeType of imageTypes) {
        const data = event.data[mimeType];
        if (typeof data === 'string') {
          images.push({ data: data.replace(/\s+/g, ''), mimeType });
        }
      }
    };
    const result = await this.kernel.executeCodeBlocks([{ language: 'python', code }], {
      signal,
      onOutput,
    });
    return { exitCode: result.exitCode, output: result.output, images };
  }

  protected async stop(): Promise<void> {
    // The kernel goes with its pod; stopping it first would only add a round trip.
    await this.kernel.detach().catch(() => undefined);
    await this.server.stop();
  }

  protected async removeIfEnded(): Promise<string | undefined> {
    const reason = this.server.isRunning ? await this.server.removeIfEnded() : undefined;
    if (reason !== undefined) {
      // Its kernel went with the pod: the next start makes a new one.
      await this.kernel.detach();
      this.workingDirectory = undefined;
    }
    return reason;
  }
}

export function createSessionRunner(config: McpServerConfig, logger: Logger): SessionRunner {
  return config.type === 'jupyter'
    ? new JupyterRunner(config, logger)
    : new CommandLineRunner(config, logger);
}
