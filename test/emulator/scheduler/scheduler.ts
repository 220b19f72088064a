import { sleep } from '../kubelet/backoff.ts';
import type { EventRecorder } from '../kubelet/eventRecorder.ts';
import { timestamp, type KubeObject, type ObjectStore } from '../store/objectStore.ts';
import { resourceTypeOfKind } from '../resources.ts';

type Json = Record<string, unknown>;

const pods = resourceTypeOfKind('Pod');
const claims = resourceTypeOfKind('PersistentVolumeClaim');
/** How often an unschedulable pod is tried again (kube-scheduler retries on cluster events). */
const retryMs = 200;
const source = { component: 'default-scheduler' };

/**
 * kube-scheduler for the one node: while a filter keeps the pod off it, the pod stays Pending with
 * an Unschedulable condition and a FailedScheduling event; then it is bound to the node. Returns
 * the bound pod, or undefined when the pod is gone or `signal` ended the wait.
 */
export async function schedulePod(
  store: ObjectStore,
  events: EventRecorder,
  pod: KubeObject,
  nodeName: string,
  signal: AbortSignal,
): Promise<KubeObject | undefined> {
  // A pod created with its node named is the kubelet's alone: the scheduler never sees it.
  if ((pod.spec as Json).nodeName) {
    return pod;
  }
  let reported: string | undefined;
  for (;;) {
    const message = unschedulableMessage(store, pod);
    if (!message) {
      break;
    }
    if (message !== reported) {
      reported = message;
      const marked = markUnschedulable(store, pod, message);
      events.record(marked ?? pod, {
        type: 'Warning',
        reason: 'FailedScheduling',
        message,
        source,
      });
    }
    await sleep(retryMs, signal);
    if (signal.aborted) {
      return undefined;
    }
  }
  const namespace = pod.metadata.namespace ?? 'default';
  const name = pod.metadata.name ?? '';
  const bound = store.mutate(pods, namespace, name, (stored) => {
    if (stored.metadata.uid === pod.metadata.uid) {
      (stored.spec as Json).nodeName = nodeName;
    }
  });
  if (!bound || bound.metadata.uid !== pod.metadata.uid) {
    return undefined;
  }
  events.record(bound, {
    type: 'Normal',
    reason: 'Scheduled',
    message: `Successfully assigned ${namespace}/${name} to ${nodeName}`,
    source,
  });
  return bound;
}

/**
 * Why kube-scheduler's volume-binding filter keeps the pod off the node, as its FailedScheduling
 * message says it, or undefined when every claim the pod mounts exists and is bound.
 */
function unschedulableMessage(store: ObjectStore, pod: KubeObject): string | undefined {
  const namespace = pod.metadata.namespace ?? 'default';
  let unbound = false;
  for (const volume of ((pod.spec as Json).volumes as Json[] | undefined) ?? []) {
    const source = volume.persistentVolumeClaim as Json | undefined;
    if (!source) {
      continue;
    }
    const claimName = String(source.claimName);
    const claim = store.find(claims, namespace, claimName);
    if (!claim) {
      return nodesUnavailable(`persistentvolumeclaim "${claimName}" not found`);
    }
    if (claim.metadata.deletionTimestamp) {
      return nodesUnavailable(`persistentvolumeclaim "${claimName}" is being deleted`);
    }
    unbound ||= (claim.status as Json | undefined)?.phase !== 'Bound';
  }
  return unbound ? nodesUnavailable('pod has unbound immediate PersistentVolumeClaims') : undefined;
}

/** Writes the condition the scheduler leaves on a pod it cannot place; the pod stays Pending. */
function markUnschedulable(
  store: ObjectStore,
  pod: KubeObject,
  message: string,
): KubeObject | undefined {
  return store.mutate(
    pods,
    pod.metadata.namespace ?? 'default',
    pod.metadata.name ?? '',
    (stored) => {
      if (stored.metadata.uid !== pod.metadata.uid) {
        return;
      }
      const status = (stored.status ?? {}) as Json;
      stored.status = {
        ...status,
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            lastProbeTime: null,
            lastTransitionTime: timestamp(),
            reason: 'Unschedulable',
            message,
          },
        ],
      };
    },
  );
}

function nodesUnavailable(reason: string): string {
  return `0/1 nodes are available: ${reason}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`;
}
