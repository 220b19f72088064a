import type { V1Pod } from '@kubernetes/client-node';
import { PodGoneError } from './errors.ts';

/** What a connection reads of its pod to tell a pod gone from a network lost. */
export interface PodLookup {
  find(name: string): Promise<V1Pod | undefined>;
  events(name: string): Promise<string[]>;
}

/** Why the pod can no longer be used ("was deleted", "stopped (phase Failed: …)"), or undefined. */
export function podGoneReason(pod: V1Pod | undefined): string | undefined {
  const phase = pod?.status?.phase;
  if (!pod) {
    return 'was deleted';
  }
  if (pod.metadata?.deletionTimestamp) {
    return 'is being deleted';
  }
  return phase === 'Succeeded' || phase === 'Failed'
    ? `stopped (phase ${phase}${pod.status?.reason ? `: ${pod.status.reason}` : ''})`
    : undefined;
}

/** The error for a pod that is gone: names it, why, and its last Events. */
export async function podGoneError(
  lookup: PodLookup,
  namespace: string,
  pod: string,
  why: string,
): Promise<PodGoneError> {
  const events = await lookup.events(pod);
  return new PodGoneError(
    [
      `pod ${namespace}/${pod} ${why}: it cannot be reconnected to`,
      ...(events.length ? ['Last events:', ...events.map((e) => `  ${e}`)] : []),
    ].join('\n'),
    pod,
    events,
  );
}
