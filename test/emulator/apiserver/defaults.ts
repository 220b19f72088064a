import type { KubeObject, ObjectStore } from '../store/objectStore.ts';
import { resourceTypeOfKind } from '../resources.ts';

type Json = Record<string, unknown>;

export const defaultClassAnnotation = 'storageclass.kubernetes.io/is-default-class';
/** The finalizer that keeps a claim while a pod uses it. */
export const claimProtection = 'kubernetes.io/pvc-protection';

/** Where defaulting gets what the apiserver allocates or its admission plugins look up. */
export interface Allocators {
  serviceIp: () => string;
  /** A node port no service holds (NodePort and LoadBalancer services get one per port). */
  nodePort: () => number;
  /** The StorageClass annotated as the default, if any (the DefaultStorageClass admission plugin). */
  defaultStorageClass: () => string | undefined;
}

/** Fills the fields kube-apiserver defaults on create, so clients read back what a cluster returns. */
export function applyDefaults(object: KubeObject, allocate: Allocators): void {
  switch (object.kind) {
    case 'Pod':
      defaultPod(object);
      break;
    case 'Service':
      defaultService(object, allocate);
      break;
    case 'Secret':
      object.type ??= 'Opaque';
      break;
    case 'PersistentVolumeClaim':
      defaultClaim(object, allocate);
      break;
    case 'PersistentVolume':
      (object.spec as Json).persistentVolumeReclaimPolicy ??= 'Retain';
      (object.spec as Json).volumeMode ??= 'Filesystem';
      object.status = { phase: 'Pending' };
      break;
    case 'StorageClass':
      object.reclaimPolicy ??= 'Delete';
      object.volumeBindingMode ??= 'Immediate';
      break;
    case 'Namespace':
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
      object.metadata.labels = {
        ...object.metadata.labels,
        'kubernetes.io/metadata.name': object.metadata.name ?? '',
      };
      break;
    default:
      break;
  }
}

function defaultPod(pod: KubeObject): void {
  const spec = pod.spec as Json;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.serviceAccountName ??= 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  spec.priority ??= 0;
  spec.tolerations ??= [
    {
      key: 'node.kubernetes.io/not-ready',
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: 300,
    },
    {
      key: 'node.kubernetes.io/unreachable',
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: 300,
    },
  ];
  for (const container of [
    ...((spec.initContainers as Json[] | undefined) ?? []),
    ...(spec.containers as Json[]),
  ]) {
    const image = String(container.image);
    container.imagePullPolicy ??= imageTag(image) === 'latest' ? 'Always' : 'IfNotPresent';
    container.terminationMessagePath ??= '/dev/termination-log';
    container.terminationMessagePolicy ??= 'File';
    container.resources ??= {};
    for (const port of (container.ports as Json[] | undefined) ?? []) {
      port.protocol ??= 'TCP';
    }
  }
  for (const volume of (spec.volumes as Json[] | undefined) ?? []) {
    if (volume.secret && typeof volume.secret === 'object') {
      (volume.secret as Json).defaultMode ??= 420;
    }
    if (volume.configMap && typeof volume.configMap === 'object') {
      (volume.configMap as Json).defaultMode ??= 420;
    }
  }
  pod.status = { phase: 'Pending', qosClass: qosClass(spec.containers as Json[]) };
}

export function imageTag(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > lastSlash ? withoutDigest.slice(colon + 1) : 'latest';
}

function qosClass(containers: Json[]): string {
  let anyResources = false;
  let guaranteed = true;
  for (const container of containers) {
    const resources = (container.resources ?? {}) as { limits?: Json; requests?: Json };
    const limits = resources.limits ?? {};
    const requests = resources.requests ?? {};
    if (Object.keys(limits).length > 0 || Object.keys(requests).length > 0) {
      anyResources = true;
    }
    for (const name of ['cpu', 'memory']) {
      if (
        limits[name] === undefined ||
        (requests[name] !== undefined && requests[name] !== limits[name])
      ) {
        guaranteed = false;
      }
    }
  }
  if (!anyResources) {
    return 'BestEffort';
  }
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function defaultService(service: KubeObject, allocate: Allocators): void {
  const spec = service.spec as Json;
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  service.status = { loadBalancer: {} };
  if (spec.type === 'ExternalName') {
    return;
  }
  spec.internalTrafficPolicy ??= 'Cluster';
  spec.ipFamilies ??= ['IPv4'];
  spec.ipFamilyPolicy ??= 'SingleStack';
  if (spec.clusterIP !== 'None') {
    spec.clusterIP ??= allocate.serviceIp();
    spec.clusterIPs ??= [spec.clusterIP];
  }
  const exposed = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  if (exposed) {
    spec.externalTrafficPolicy ??= 'Cluster';
  }
  if (spec.type === 'LoadBalancer') {
    spec.allocateLoadBalancerNodePorts ??= true;
  }
  for (const port of (spec.ports as Json[] | undefined) ?? []) {
    port.protocol ??= 'TCP';
    port.targetPort ??= port.port;
    if (exposed) {
      port.nodePort ??= allocate.nodePort();
    }
  }
}

function defaultClaim(claim: KubeObject, allocate: Allocators): void {
  // The StorageObjectInUseProtection admission plugin: a claim in use outlives its deletion.
  const finalizers = claim.metadata.finalizers ?? [];
  if (!finalizers.includes(claimProtection)) {
    claim.metadata.finalizers = [...finalizers, claimProtection];
  }
  const spec = claim.spec as Json;
  spec.volumeMode ??= 'Filesystem';
  // Only a class left out gets the default; "" asks for a pre-provisioned volume.
  if (spec.storageClassName === undefined || spec.storageClassName === null) {
    const className = allocate.defaultStorageClass();
    if (className) {
      spec.storageClassName = className;
    }
  }
  claim.status = { phase: 'Pending' };
}

/** The class the DefaultStorageClass admission plugin gives a claim that names none. */
export function defaultStorageClassName(store: ObjectStore): string | undefined {
  const defaults = store
    .list(resourceTypeOfKind('StorageClass'))
    .filter(isDefaultClass)
    .sort((a, b) =>
      String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)),
    );
  return defaults[0]?.metadata.name;
}

/** Whether a StorageClass is marked the default (the beta annotation still counts, as in Kubernetes). */
export function isDefaultClass(storageClass: KubeObject): boolean {
  const annotations = storageClass.metadata.annotations ?? {};
  return (
    annotations[defaultClassAnnotation] === 'true' ||
    annotations['storageclass.beta.kubernetes.io/is-default-class'] === 'true'
  );
}
