import type { PodJupyterServer, PortForwardState } from '../core/index.ts';
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
  const { PodJupyterServer, specHashOf } = await loadCore();
  const options = {
    ...clusterTargetOf(settings),
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
    onConnectionState: (state: PortForwardState, podGone?: Error) =>
      status.followConnection(state, podGone),
  };
  if (profile !== undefined) {
    // Only the default kernel's gateway is kept for the next window (a profile's is deleted).
    return new PodJupyterServer(options);
  }
  // A kept gateway is adopted (its token read from its Secret) when these settings would make
  // the same pod; the namespace does not enter the pod's spec.
  return ctx.keptPods.podFor(
    'gateway',
    (podName) => new PodJupyterServer({ ...options, ...(podName ? { podName } : {}) }),
    (server) => specHashOf(server.manifestsFor('').pod),
  );
}
