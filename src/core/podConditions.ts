import type { V1Pod } from '@kubernetes/client-node';

/** Waiting reasons that retrying will not fix: the start fails at once instead of timing out. */
const fatalWaitingReasons = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/**
 * What a real kubelet and scheduler report for a moment and then get past on their own: the
 * kubelet's secret or config map cache not synced yet (it retries the container), a node not
 * ready yet (its taint is lifted once it is), and a claim the volume controller has not bound yet
 * (a claim that does not exist stays fatal). Seen on a real node under load; the start waits.
 */
const passingConditions = [
  /failed to sync (secret|configmap) cache/,
  /untolerated taint \{node\.kubernetes\.io\/(not-ready|unreachable)/,
  /pod has unbound immediate PersistentVolumeClaims/,
];
const passing = (message: string | undefined) =>
  passingConditions.some((pattern) => pattern.test(message ?? ''));

/** Why a pod cannot become ready, if its status already says so. */
export function fatalPodCondition(pod: V1Pod): { reason: string; message: string } | undefined {
  const status = pod.status;
  if (status?.phase === 'Failed' || status?.phase === 'Succeeded') {
    const terminated = status.containerStatuses?.find((c) => c.state?.terminated)?.state
      ?.terminated;
    const detail = terminated
      ? `container exited with code ${terminated.exitCode} (${terminated.reason ?? 'no reason'})${terminated.message ? `: ${terminated.message}` : ''}`
      : (status.message ?? '');
    return {
      reason: status.reason ?? status.phase,
      message: `the pod is ${status.phase}${detail ? `: ${detail}` : ''}`,
    };
  }
  const unschedulable = status?.conditions?.find(
    (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
  );
  if (unschedulable && !passing(unschedulable.message)) {
    return {
      reason: 'Unschedulable',
      message: `the pod cannot be scheduled: ${unschedulable.message ?? ''}`,
    };
  }
  for (const container of [
    ...(status?.initContainerStatuses ?? []),
    ...(status?.containerStatuses ?? []),
  ]) {
    const waiting = container.state?.waiting;
    if (waiting?.reason && fatalWaitingReasons.has(waiting.reason) && !passing(waiting.message)) {
      return {
        reason: waiting.reason,
        message: `container ${container.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
      };
    }
  }
  return undefined;
}

/** "Pending", "Pending (ContainerCreating)", "Running (not ready)", ... */
export function describePhase(pod: V1Pod): string {
  const phase = pod.status?.phase ?? 'Pending';
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason)?.state
    ?.waiting?.reason;
  if (waiting) {
    return `${phase} (${waiting})`;
  }
  return phase === 'Running' && !isPodReady(pod) ? 'Running (not ready)' : phase;
}

export function isPodReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
  );
}
