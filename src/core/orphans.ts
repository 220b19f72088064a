import { deleteIfPresent, makeApiClient, withApiRetry } from './apiRetry.ts';
import { CoreV1Api, type V1ObjectMeta, type V1Pod } from '@kubernetes/client-node';
import {
  clientLabel,
  instanceLabel,
  jupyterServerLabel,
  managedByLabel,
  managedByValue,
  sessionLabel,
} from './podLabels.ts';
import { loadClusterTarget, type ClusterTargetOptions } from './kubeconfig.ts';
import { translateApiError } from './kubernetesErrors.ts';
import { specHashOf } from './specHash.ts';

export interface ManagedPod {
  name: string;
  namespace: string;
  phase: string;
  createdAt: string | undefined;
  executorId: string | undefined;
  /** The client and session that created it (see podLabels.ts), when it carries them. */
  client: string | undefined;
  session: string | undefined;
  /** The hash of the spec it was made from (specHash.ts), when it carries one. */
  specHash: string | undefined;
}

export interface ApiDeadlineOptions {
  /** Each API request's deadline; default apiCallTimeoutMs (30 s). */
  apiTimeoutMs?: number;
}

/**
 * Pods that Pod Runner created (found by its managed-by label), in one namespace; given `client`,
 * only that client's. An API server that does not answer fails the call within its deadline.
 */
export async function listManagedPods(
  options: ClusterTargetOptions & ApiDeadlineOptions & { client?: string } = {},
): Promise<ManagedPod[]> {
  const target = loadClusterTarget(options);
  const core = makeApiClient(target.kubeConfig, CoreV1Api, options.apiTimeoutMs);
  const list = await apiCall(`list Pod Runner pods in namespace ${target.namespace}`, () =>
    core.listNamespacedPod({
      namespace: target.namespace,
      labelSelector: `${managedByLabel}=${managedByValue}${options.client ? `,${clientLabel}=${options.client}` : ''}`,
    }),
  );
  return list.items.map((pod: V1Pod) => ({
    name: pod.metadata?.name ?? '',
    namespace: target.namespace,
    phase: pod.status?.phase ?? 'Unknown',
    createdAt: pod.metadata?.creationTimestamp
      ? new Date(pod.metadata.creationTimestamp).toISOString()
      : undefined,
    executorId: pod.metadata?.labels?.[instanceLabel],
    client: pod.metadata?.labels?.[clientLabel],
    session: pod.metadata?.labels?.[sessionLabel],
    specHash: specHashOf(pod),
  }));
}

/**
 * A gateway's Secret or Service whose Pod is missing counts as left behind only after this long:
 * a gateway that is starting creates its Secret a moment before its Pod.
 */
const danglingAfterMs = 5 * 60_000;

/**
 * Deletes Pod Runner's pods that no live executor owns (left by a crashed client): every managed
 * pod whose name is not in `keep` (and, given `only`, is in it). A reaped gateway's Secret and
 * Service go with its pod; without `only`, so do a gateway's Secret and Service whose pod has
 * been gone for minutes. Returns the names of the pods deleted.
 */
export async function reapOrphanedPods(
  options: ClusterTargetOptions &
    ApiDeadlineOptions & { keep?: readonly string[]; only?: readonly string[] } = {},
): Promise<string[]> {
  const target = loadClusterTarget(options);
  const core = makeApiClient(target.kubeConfig, CoreV1Api, options.apiTimeoutMs);
  const namespace = target.namespace;
  const pods = await listManagedPods(options);
  const keep = new Set(options.keep ?? []);
  const victims = pods
    .map((pod) => pod.name)
    .filter((name) => !keep.has(name) && (!options.only || options.only.includes(name)));
  const reaped = new Set(victims);
  const alive = new Set(pods.map((pod) => pod.name).filter((name) => !reaped.has(name)));
  const leftBehind = (owner: string | undefined, createdAt: Date | undefined): boolean =>
    owner !== undefined &&
    !keep.has(owner) &&
    (reaped.has(owner) ||
      // A pod named in `only` that is gone already: its Secret and Service go alone.
      (options.only?.includes(owner) === true && !alive.has(owner)) ||
      (!options.only &&
        !alive.has(owner) &&
        createdAt !== undefined &&
        Date.now() - createdAt.getTime() > danglingAfterMs));
  const selector = `${managedByLabel}=${managedByValue},${jupyterServerLabel}`;
  const [secrets, services] = await Promise.all([
    apiCall(`list Pod Runner secrets in namespace ${namespace}`, () =>
      core.listNamespacedSecret({ namespace, labelSelector: selector }),
    ),
    apiCall(`list Pod Runner services in namespace ${namespace}`, () =>
      core.listNamespacedService({ namespace, labelSelector: selector }),
    ),
  ]);
  const ownedLeftovers = <T extends { metadata?: V1ObjectMeta }>(items: T[]) =>
    items
      .filter((item) =>
        leftBehind(item.metadata?.labels?.[jupyterServerLabel], item.metadata?.creationTimestamp),
      )
      .map((item) => item.metadata?.name ?? '');
  await Promise.all([
    ...victims.map((name) =>
      deleteIfPresent(`delete pod ${name}`, () => core.deleteNamespacedPod({ namespace, name })),
    ),
    ...ownedLeftovers(secrets.items).map((name) =>
      deleteIfPresent(`delete secret ${name}`, () =>
        core.deleteNamespacedSecret({ namespace, name }),
      ),
    ),
    ...ownedLeftovers(services.items).map((name) =>
      deleteIfPresent(`delete service ${name}`, () =>
        core.deleteNamespacedService({ namespace, name }),
      ),
    ),
  ]);
  return victims;
}

async function apiCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await withApiRetry(call, { idempotent: true });
  } catch (error) {
    throw translateApiError(error, what);
  }
}
