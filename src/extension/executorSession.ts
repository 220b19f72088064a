import type { PodCommandLineCodeExecutor } from '../core/index.ts';
import { unlessAborted } from './cancellation.ts';
import { clusterTargetOf, readCleanupSettings } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { PodSession } from './podSession.ts';
import { podOptionsOf } from './profilePods.ts';
import type { Profiles } from './profiles.ts';

type ExecutorCtx = Pick<Ctx, 'settings' | 'logger' | 'podLabels' | 'leftovers'> & {
  profiles: Pick<Profiles, 'profileFor'>;
};

/** The window's executor pod: started on first use, reused by every run, deleted on stop. */
export class ExecutorSession extends PodSession<PodCommandLineCodeExecutor> {
  constructor(private readonly ctx: ExecutorCtx) {
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

/** The executor of the window's active profile (none: the settings alone). */
async function createExecutor(ctx: ExecutorCtx): Promise<PodCommandLineCodeExecutor> {
  const settings = ctx.settings;
  const { image, podSpec, resources, labels } = await podOptionsOf(
    settings,
    ctx.profiles.profileFor(settings),
    'executor',
  );
  const { PodCommandLineCodeExecutor } = await loadCore();
  return new PodCommandLineCodeExecutor({
    ...clusterTargetOf(settings),
    image,
    ...(podSpec !== undefined ? { podSpec } : {}),
    ...(settings.volume !== undefined ? { volume: settings.volume } : {}),
    workspacePath: settings.workspacePath,
    timeout: settings.timeout,
    startupTimeout: settings.startupTimeout,
    autoRemove: settings.autoRemove,
    labels: { ...settings.labels, ...labels, ...ctx.podLabels },
    ...(resources ? { resources } : {}),
    logger: ctx.logger,
  });
}
