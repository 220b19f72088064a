import type { PodJupyterServer } from '../core/index.ts';
import { clusterTargetOf } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import type { PodStateHolder } from './podState.ts';
import { podOptionsOf } from './profilePods.ts';

type GatewayCtx = Pick<Ctx, 'settings' | 'logger' | 'podLabels' | 'keptPods' | 'profiles'>;

/**
 * The gateway server of `profile` (none given: the window's active profile); its connection's
 * state (reconnecting, gone) shows in `status`.
 */
export async function createServer(
  ctx: GatewayCtx,
  status: PodStateHolder,
  profile?: string,
): Promise<PodJupyterServer> {
  const settings = ctx.settings;
  const { image, podSpec, labels } = await podOptionsOf(
    settings,
    ctx.profiles.profileFor(settings, profile),
    'kernel',
  );
  const { PodJupyterServer } = await loadCore();
  // Only the default kernel's gateway is kept for the next window (a profile's is deleted).
  const kept = profile === undefined ? await ctx.keptPods.reuse('gateway') : undefined;
  return new PodJupyterServer({
    ...clusterTargetOf(settings),
    // The kept gateway is adopted, its token read from its Secret.
    ...(kept !== undefined ? { podName: kept } : {}),
    image,
    ...(podSpec !== undefined ? { podSpec } : {}),
    ...(settings.jupyterCommand ? { command: settings.jupyterCommand } : {}),
    port: settings.jupyterPort,
    // The same path as the executor's: a folder syncs to the same root in both pods.
    workspacePath: settings.workspacePath,
    startupTimeout: settings.startupTimeout,
    // Whether the gateway is deleted is decided when the window closes (stop()).
    autoRemove: false,
    idleTimeoutMinutes: settings.idleTimeoutMinutes,
    labels: { ...settings.labels, ...labels, ...ctx.podLabels },
    logger: ctx.logger,
    onConnectionState: (state, podGone) => status.followConnection(state, podGone),
  });
}
