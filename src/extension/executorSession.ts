import * as vscode from 'vscode';
import type { PodCommandLineCodeExecutor } from '../core/index.ts';
import { unlessAborted } from './cancellation.ts';
import { clusterTargetOf, readCleanupSettings } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { PodSession } from './podSession.ts';

/** The window's executor pod: started on first use, reused by every run, deleted on stop. */
export class ExecutorSession extends PodSession<PodCommandLineCodeExecutor> {
  /** When a run on the pod last ended. */
  private lastUsed = 0;

  constructor(private readonly ctx: Pick<Ctx, 'settings' | 'logger' | 'podLabels' | 'leftovers'>) {
    super({
      kind: 'pod',
      create: () => createExecutor(ctx),
      isRunning: (executor) => executor.isRunning,
      afterStart: () => ctx.leftovers.afterPodStart(),
    });
  }

  get podName(): string | undefined {
    return this.running?.podName;
  }

  get namespace(): string | undefined {
    return this.running?.namespace;
  }

  /**
   * Runs `action` on the pod (busy meanwhile), starting the pod first when needed, unless
   * `signal` fires while it starts.
   */
  async withPod<T>(
    signal: AbortSignal,
    action: (executor: PodCommandLineCodeExecutor) => Promise<T>,
  ): Promise<T> {
    const executor = await unlessAborted(this.ensureStarted(), signal);
    return this.use(executor, () => action(executor));
  }

  /**
   * The pod, as any session's; when it was unused for the idle timeout, it is looked at first (one
   * API call): one that stopped by itself is deleted, the user told why, and a new one started.
   */
  override async ensureStarted(): Promise<PodCommandLineCodeExecutor> {
    const running = this.running;
    const idleMs = (running?.idleSeconds ?? 0) * 1000;
    if (running && idleMs > 0 && Date.now() - this.lastUsed >= idleMs) {
      const reason = await running.removeIfEnded().catch(() => undefined);
      if (reason) {
        void vscode.window.showInformationMessage(`Pod Runner: ${reason}; starting a new pod.`);
      }
    }
    return super.ensureStarted();
  }

  override async use<T>(
    executor: PodCommandLineCodeExecutor,
    action: () => Promise<T>,
  ): Promise<T> {
    try {
      return await super.use(executor, action);
    } finally {
      this.lastUsed = Date.now();
    }
  }

  /** Deletes the pod and starts a new one, as any start: with progress, cancelled by a stop. */
  async restart(): Promise<void> {
    await this.replace((executor) => executor.stop());
  }

  /** Deletes the pod when asked to (`force`) or when autoRemove is on; otherwise leaves it running. */
  async stop(force = false): Promise<void> {
    await this.close(async (executor) => {
      if (force || readCleanupSettings().autoRemove) {
        await executor.stop();
      } else {
        await executor[Symbol.asyncDispose]();
      }
    });
  }
}

async function createExecutor(
  ctx: Pick<Ctx, 'settings' | 'logger' | 'podLabels'>,
): Promise<PodCommandLineCodeExecutor> {
  const settings = ctx.settings;
  const { PodCommandLineCodeExecutor, resourceRequirements } = await loadCore();
  const resources = resourceRequirements(settings.resources);
  return new PodCommandLineCodeExecutor({
    ...clusterTargetOf(settings),
    image: settings.image,
    ...(settings.podSpec !== undefined ? { podSpec: settings.podSpec } : {}),
    ...(settings.volume !== undefined ? { volume: settings.volume } : {}),
    workspacePath: settings.workspacePath,
    timeout: settings.timeout,
    startupTimeout: settings.startupTimeout,
    autoRemove: settings.autoRemove,
    idleTimeoutMinutes: settings.idleTimeoutMinutes,
    labels: { ...settings.labels, ...ctx.podLabels },
    ...(resources ? { resources } : {}),
    logger: ctx.logger,
  });
}
