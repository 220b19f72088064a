import * as vscode from 'vscode';
import { PodGoneError } from '../core/errors.ts';
import type { PodCommandLineCodeExecutor, PortForwardState } from '../core/index.ts';
import { unlessAborted } from './cancellation.ts';
import { clusterTargetOf, readCleanupSettings } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import { IdleStopCheck } from './idleStopCheck.ts';
import { PodSession } from './podSession.ts';
import type { PodStateHolder } from './podState.ts';
import { podOptionsOf } from './profilePods.ts';
import type { Profiles } from './profiles.ts';

type ExecutorCtx = Pick<Ctx, 'settings' | 'logger' | 'podLabels' | 'leftovers' | 'keptPods'> & {
  profiles: Pick<Profiles, 'profileFor'>;
};

/** The window's executor pod: started on first use, reused by every run, deleted on stop. */
export class ExecutorSession extends PodSession<PodCommandLineCodeExecutor> {
  private readonly idle = new IdleStopCheck();

  constructor(private readonly ctx: ExecutorCtx) {
    super({
      kind: 'pod',
      create: () => createExecutor(ctx, this.status),
      isRunning: (executor) => executor.isRunning,
      afterStart: () => {
        void ctx.keptPods.recordPod('executor', this.podName!);
        ctx.leftovers.afterPodStart();
      },
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
    const reason = await this.idle.stoppedSinceUse(running, (running?.idleSeconds ?? 0) * 1000);
    if (reason) {
      void vscode.window.showInformationMessage(`Pod Runner: ${reason}; starting a new pod.`);
    }
    return super.ensureStarted();
  }

  override async use<T>(
    executor: PodCommandLineCodeExecutor,
    action: () => Promise<T>,
  ): Promise<T> {
    try {
      return await super.use(executor, action);
    } catch (error) {
      // Shown until the next run starts a fresh pod (the executor dropped the gone one).
      if (error instanceof PodGoneError && !executor.isRunning) {
        this.status.set('error', error);
      }
      throw error;
    } finally {
      this.idle.used();
    }
  }

  /** Deletes the pod and starts a new one, as any start: with progress, cancelled by a stop. */
  async restart(): Promise<void> {
    await this.replace((executor) => executor.stop());
  }

  /** Deletes the pod when asked to (`force`) or when cleanupPolicy says so; otherwise leaves it running. */
  async stop(force = false): Promise<void> {
    await this.close(async (executor) => {
      if (force || readCleanupSettings().cleanupPolicy === 'deleteOnClose') {
        await executor.stop();
        await this.ctx.keptPods.forgetPod('executor');
      } else {
        await executor[Symbol.asyncDispose]();
      }
    });
  }
}

/**
 * The executor of the window's active profile (none: the settings alone); a run waiting for an
 * unreachable API server shows as `reconnecting…` in `status`, a pod gone meanwhile as an error.
 */
async function createExecutor(
  ctx: ExecutorCtx,
  status: PodStateHolder,
): Promise<PodCommandLineCodeExecutor> {
  const settings = ctx.settings;
  const { image, podSpec, resources, labels } = await podOptionsOf(
    settings,
    ctx.profiles.profileFor(settings),
    'executor',
  );
  const { PodCommandLineCodeExecutor, specHashOf } = await loadCore();
  const options = {
    ...clusterTargetOf(settings),
    image,
    ...(podSpec !== undefined ? { podSpec } : {}),
    ...(settings.volume !== undefined ? { volume: settings.volume } : {}),
    workspacePath: settings.workspacePath,
    timeout: settings.timeout,
    startupTimeout: settings.startupTimeout,
    // Whether the pod is deleted is decided when the window closes (stop()).
    autoRemove: false,
    idleTimeoutMinutes: settings.idleTimeoutMinutes,
    warmRuntime: settings.warmRuntime,
    labels: { ...settings.labels, ...labels, ...ctx.podLabels },
    ...(resources ? { resources } : {}),
    logger: ctx.logger,
    onConnectionState: (state: PortForwardState, podGone?: Error) =>
      status.followConnection(state, podGone),
  };
  // The pod the last window kept is reused when these settings would make the same pod.
  return ctx.keptPods.podFor(
    'executor',
    (podName) => new PodCommandLineCodeExecutor({ ...options, ...(podName ? { podName } : {}) }),
    (executor) => specHashOf(executor.podManifest),
  );
}
