import { withApiRetry } from './apiRetry.ts';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { instanceLabel, managedByLabel, managedByValue } from './executorPod.ts';
import { loadClusterTarget, type ClusterTargetOptions } from './kubeconfig.ts';
import { translateApiError } from './kubernetesErrors.ts';

export interface ManagedPod {
  name: string;
  namespace: string;
  phase: string;
  createdAt: string | undefined;
  executorId: string | undefined;
}

/** Pods that Pod Runner created (found by its managed-by label), in one namespace. */
export async function listManagedPods(options: ClusterTargetOptions = {}): Promise<ManagedPod[]> {
  const target = loadClusterTarget(options);
  const core = target.kubeConfig.makeApiClient(CoreV1Api);
  try {
    const list = await core.listNamespacedPod({
      namespace: target.namespace,
      labelSelector: `${managedByLabel}=${managedByValue}`,
    });
    return list.items.map((pod: V1Pod) => ({
      name: pod.metadata?.name ?? '',
      namespace: target.namespace,
      phase: pod.status?.phase ?? 'Unknown',
      createdAt: pod.metadata?.creationTimestamp
        ? new Date(pod.metadata.creationTimestamp).toISOString()
        : undefined,
      executorId: pod.metadata?.labels?.[instanceLabel],
    }));
  } catch (error) {
    throw translateApiError(error, `list Pod Runner pods in namespace ${target.namespace}`);
  }
}

/**
 * Deletes Pod Runner's pods that no live executor owns (left by a crashed client): every managed
 * pod whose name is not in `keep`. Returns the names deleted.
 */
export async function reapOrphanedPods(
  options: ClusterTargetOptions & { keep?: readonly string[]; only?: readonly string[] } = {},
): Promise<string[]> {
  const target = loadClusterTarget(options);
  const core = target.kubeConfig.makeApiClient(CoreV1Api);
  const pods = await listManagedPods(options);
  const keep = new Set(options.keep ?? []);
  const victims = pods.filter(
    (pod) => !keep.has(pod.name) && (!options.only || options.only.includes(pod.name)),
  );
  await Promise.all(
    victims.map(async (pod) => {
      try {
        await withApiRetry(
          () => core.deleteNamespacedPod({ namespace: target.namespace, name: pod.name }),
          { idempotent: true },
        );
      } catch (error) {
        throw translateApiError(error, `delete pod ${pod.name}`);
      }
    }),
  );
  return victims.map((pod) => pod.name);
}
