import type { ContainerSlot } from './containerSlot.ts';
import { timestamp, type KubeObject, type ObjectStore } from '../store/objectStore.ts';
import { resourceTypeOfKind } from '../resources.ts';

type Json = Record<string, unknown>;

const pods = resourceTypeOfKind('Pod');

/** What the pod worker knows that the status is made from. */
export interface PodStatusInputs {
  slots: readonly ContainerSlot[];
  sandboxReady: boolean;
  deadlineExceeded: boolean;
  podIP: string;
  /** When the sandbox came up; no pod IP is reported before. */
  startTime: string | undefined;
}

const conditionOrder = [
  'PodReadyToStartContainers',
  'Initialized',
  'Ready',
  'ContainersReady',
  'PodScheduled',
];

/**
 * The kubelet's status manager for one pod: derives the phase, conditions (with their transition
 * times) and container statuses, and writes them to the pod in the store.
 */
export class StatusManager {
  private readonly transitions = new Map<string, { status: string; time: string }>();

  constructor(
    private readonly store: ObjectStore,
    private readonly hostIP: string,
  ) {}

  /** Records a condition's status; its transition time changes only when the status does. */
  transition(type: string, status: string): void {
    const previous = this.transitions.get(type);
    if (!previous || previous.status !== status) {
      this.transitions.set(type, { status, time: timestamp() });
    }
  }

  /** Writes the status; returns the stored pod when it is still this pod (same uid). */
  publish(pod: KubeObject, inputs: PodStatusInputs): KubeObject | undefined {
    const main = inputs.slots.filter((slot) => !slot.init);
    const inits = inputs.slots.filter((slot) => slot.init);
    const phase = podPhase(inputs);
    const initialized = inits.every(
      (s) => 'terminated' in s.state && s.state.terminated.exitCode === 0,
    );
    const containersReady = phase === 'Running' && main.every((slot) => slot.ready);
    this.transition('PodReadyToStartContainers', inputs.sandboxReady ? 'True' : 'False');
    this.transition('Initialized', initialized ? 'True' : 'False');
    this.transition('ContainersReady', containersReady ? 'True' : 'False');
    this.transition('Ready', containersReady ? 'True' : 'False');
    const notReady = main.filter((slot) => !slot.ready).map((slot) => slot.name);
    const finished = phase === 'Succeeded' || phase === 'Failed';
    const conditions = conditionOrder
      .filter((type) => this.transitions.has(type))
      .map((type) => {
        const { status, time } = this.transitions.get(type)!;
        const reason =
          status === 'True'
            ? undefined
            : type === 'Ready' || type === 'ContainersReady'
              ? finished
                ? 'PodCompleted'
                : 'ContainersNotReady'
              : undefined;
        return {
          type,
          status,
          lastProbeTime: null,
          lastTransitionTime: time,
          ...(reason ? { reason } : {}),
          ...(reason === 'ContainersNotReady'
            ? { message: `containers with unready status: [${notReady.join(' ')}]` }
            : {}),
        };
      });
    const status: Json = {
      phase,
      conditions,
      hostIP: this.hostIP,
      hostIPs: [{ ip: this.hostIP }],
      ...(inputs.startTime
        ? { podIP: inputs.podIP, podIPs: [{ ip: inputs.podIP }], startTime: inputs.startTime }
        : {}),
      ...(inits.length > 0 ? { initContainerStatuses: inits.map(containerStatus) } : {}),
      containerStatuses: main.map(containerStatus),
      qosClass: (pod.status as Json | undefined)?.qosClass ?? 'BestEffort',
      ...(inputs.deadlineExceeded
        ? {
            reason: 'DeadlineExceeded',
            message: 'Pod was active on the node longer than the specified deadline',
          }
        : {}),
    };
    const uid = pod.metadata.uid;
    const namespace = pod.metadata.namespace ?? 'default';
    const updated = this.store.mutate(pods, namespace, pod.metadata.name ?? '', (stored) => {
      if (stored.metadata.uid === uid) {
        stored.status = status;
      }
    });
    return updated && updated.metadata.uid === uid ? updated : undefined;
  }
}

function podPhase(inputs: PodStatusInputs): string {
  const main = inputs.slots.filter((slot) => !slot.init);
  if (inputs.deadlineExceeded) {
    return 'Failed';
  }
  const initFailed = inputs.slots.some(
    (s) => s.init && s.finished && 'terminated' in s.state && s.state.terminated.exitCode !== 0,
  );
  if (initFailed) {
    return 'Failed';
  }
  const done = main.every((slot) => slot.finished && 'terminated' in slot.state);
  if (done) {
    return main.every((slot) => 'terminated' in slot.state && slot.state.terminated.exitCode === 0)
      ? 'Succeeded'
      : 'Failed';
  }
  return main.every((slot) => slot.everStarted) ? 'Running' : 'Pending';
}

function containerStatus(slot: ContainerSlot): Json {
  return {
    name: slot.name,
    state: slot.state,
    lastState: slot.lastState,
    ready: slot.ready,
    restartCount: slot.restartCount,
    image: String(slot.spec.image),
    imageID: `${String(slot.spec.image)}@sha256:${'0'.repeat(64)}`,
    ...(slot.containerID ? { containerID: slot.containerID } : {}),
    started: slot.started,
  };
}
