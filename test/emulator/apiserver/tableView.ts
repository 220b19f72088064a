import { text } from '../jsonValues.ts';
import type { KubeObject } from '../store/objectStore.ts';
import { isDefaultClass } from './defaults.ts';
import type { ResourceType } from '../resources.ts';

type Json = Record<string, unknown>;

/**
 * Server-side printing: kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints
 * the columns the apiserver chooses. These are the columns a real apiserver prints for the core
 * kinds (the rest get its default: Name and Created At).
 */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some((type) => /as=Table/.test(type) && /g=meta\.k8s\.io/.test(type) && /v=v1\b/.test(type));
}

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  priority?: number;
  cell: (object: Json, now: number) => string | number;
}

const nameColumn: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  cell: (object) => text((object.metadata as Json).name),
};
const ageColumn: Column = {
  name: 'Age',
  type: 'string',
  cell: (object, now) => age(object, now),
};
const none = '<none>';
const volumeAttributesClassColumn: Column = {
  name: 'VolumeAttributesClass',
  type: 'string',
  cell: (object) => text(spec(object).volumeAttributesClassName) || '<unset>',
};
const volumeModeColumn: Column = {
  name: 'VolumeMode',
  type: 'string',
  priority: 1,
  cell: (object) => text(spec(object).volumeMode),
};

const columnsByKind: Record<string, Column[]> = {
  Pod: [
    nameColumn,
    { name: 'Ready', type: 'string', cell: (pod) => podReady(pod) },
    { name: 'Status', type: 'string', cell: (pod) => podStatus(pod) },
    { name: 'Restarts', type: 'string', cell: (pod) => String(podRestarts(pod)) },
    ageColumn,
    { name: 'IP', type: 'string', priority: 1, cell: (pod) => text(status(pod).podIP) || none },
    { name: 'Node', type: 'string', priority: 1, cell: (pod) => text(spec(pod).nodeName) || none },
    { name: 'Nominated Node', type: 'string', priority: 1, cell: () => none },
    { name: 'Readiness Gates', type: 'string', priority: 1, cell: () => none },
  ],
  Service: [
    nameColumn,
    { name: 'Type', type: 'string', cell: (service) => text(spec(service).type) || 'ClusterIP' },
    {
      name: 'Cluster-IP',
      type: 'string',
      cell: (service) => text(spec(service).clusterIP) || none,
    },
    { name: 'External-IP', type: 'string', cell: (service) => externalIp(service) },
    { name: 'Port(s)', type: 'string', cell: (service) => servicePorts(service) },
    ageColumn,
    { name: 'Selector', type: 'string', priority: 1, cell: (service) => selector(service) },
  ],
  Secret: [
    nameColumn,
    { name: 'Type', type: 'string', cell: (secret) => text(secret.type) || 'Opaque' },
    {
      name: 'Data',
      type: 'string',
      cell: (secret) => String(Object.keys((secret.data as Json | undefined) ?? {}).length),
    },
    ageColumn,
  ],
  ConfigMap: [
    nameColumn,
    {
      name: 'Data',
      type: 'string',
      cell: (map) =>
        String(
          Object.keys((map.data as Json | undefined) ?? {}).length +
            Object.keys((map.binaryData as Json | undefined) ?? {}).length,
        ),
    },
    ageColumn,
  ],
  Event: [
    {
      name: 'Last Seen',
      type: 'string',
      cell: (event, now) => {
        const last = Date.parse(text(event.lastTimestamp) || text(event.eventTime));
        return Number.isNaN(last) ? '<unknown>' : humanDuration((now - last) / 1000);
      },
    },
    { name: 'Type', type: 'string', cell: (event) => text(event.type) },
    { name: 'Reason', type: 'string', cell: (event) => text(event.reason) },
    {
      name: 'Object',
      type: 'string',
      cell: (event) => {
        const involved = (event.involvedObject as Json | undefined) ?? {};
        return `${text(involved.kind).toLowerCase()}/${text(involved.name)}`;
      },
    },
    { name: 'Message', type: 'string', cell: (event) => text(event.message) },
  ],
  PersistentVolumeClaim: [
    nameColumn,
    { name: 'Status', type: 'string', cell: (claim) => storageStatus(claim) },
    { name: 'Volume', type: 'string', cell: (claim) => text(spec(claim).volumeName) },
    { name: 'Capacity', type: 'string', cell: (claim) => storage(status(claim).capacity) },
    { name: 'Access Modes', type: 'string', cell: (claim) => accessModes(status(claim)) },
    { name: 'StorageClass', type: 'string', cell: (claim) => text(spec(claim).storageClassName) },
    volumeAttributesClassColumn,
    ageColumn,
    volumeModeColumn,
  ],
  PersistentVolume: [
    nameColumn,
    { name: 'Capacity', type: 'string', cell: (volume) => storage(spec(volume).capacity) },
    { name: 'Access Modes', type: 'string', cell: (volume) => accessModes(spec(volume)) },
    {
      name: 'Reclaim Policy',
      type: 'string',
      cell: (volume) => text(spec(volume).persistentVolumeReclaimPolicy),
    },
    { name: 'Status', type: 'string', cell: (volume) => storageStatus(volume) },
    { name: 'Claim', type: 'string', cell: (volume) => claimOf(volume) },
    {
      name: 'StorageClass',
      type: 'string',
      cell: (volume) => text(spec(volume).storageClassName),
    },
    volumeAttributesClassColumn,
    { name: 'Reason', type: 'string', cell: (volume) => text(status(volume).reason) },
    ageColumn,
    volumeModeColumn,
  ],
  StorageClass: [
    {
      ...nameColumn,
      // The apiserver marks the default class in the name cell itself.
      cell: (storageClass) =>
        `${text((storageClass.metadata as Json).name)}${
          isDefaultClass(storageClass as unknown as KubeObject) ? ' (default)' : ''
        }`,
    },
    { name: 'Provisioner', type: 'string', cell: (storageClass) => text(storageClass.provisioner) },
    {
      name: 'ReclaimPolicy',
      type: 'string',
      cell: (storageClass) => text(storageClass.reclaimPolicy),
    },
    {
      name: 'VolumeBindingMode',
      type: 'string',
      cell: (storageClass) => text(storageClass.volumeBindingMode),
    },
    {
      name: 'AllowVolumeExpansion',
      type: 'string',
      cell: (storageClass) => String(storageClass.allowVolumeExpansion === true),
    },
    ageColumn,
  ],
  Namespace: [
    nameColumn,
    { name: 'Status', type: 'string', cell: (namespace) => text(status(namespace).phase) },
    ageColumn,
  ],
  Node: [
    nameColumn,
    { name: 'Status', type: 'string', cell: (node) => (nodeReady(node) ? 'Ready' : 'NotReady') },
    { name: 'Roles', type: 'string', cell: (node) => nodeRoles(node) },
    ageColumn,
    {
      name: 'Version',
      type: 'string',
      cell: (node) => text((status(node).nodeInfo as Json | undefined)?.kubeletVersion),
    },
  ],
};

const defaultColumns: Column[] = [
  nameColumn,
  {
    name: 'Created At',
    type: 'date',
    cell: (object) => text((object.metadata as Json).creationTimestamp),
  },
];

/** The Table for these objects; `includeObject` is the query parameter (None, Metadata, Object). */
export function asTable(
  type: ResourceType,
  objects: KubeObject[],
  resourceVersion: string | undefined,
  includeObject: string | null,
): Json {
  const columns = columnsByKind[type.kind] ?? defaultColumns;
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: resourceVersion !== undefined ? { resourceVersion } : {},
    columnDefinitions: columns.map((column) => ({
      name: column.name,
      type: column.type,
      format: column.format ?? '',
      description: '',
      priority: column.priority ?? 0,
    })),
    rows: objects.map((object) => ({
      cells: columns.map((column) => column.cell(object as unknown as Json, now)),
      ...(includeObject === 'None' ? {} : { object: rowObject(object, includeObject) }),
    })),
  };
}

function rowObject(object: KubeObject, includeObject: string | null): Json {
  if (includeObject === 'Object') {
    return object;
  }
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

const spec = (object: Json) => (object.spec as Json | undefined) ?? {};
const status = (object: Json) => (object.status as Json | undefined) ?? {};
const containerStatuses = (pod: Json) =>
  (status(pod).containerStatuses as Json[] | undefined) ?? [];

function podReady(pod: Json): string {
  const containers = (spec(pod).containers as Json[] | undefined) ?? [];
  const ready = containerStatuses(pod).filter((container) => container.ready === true).length;
  return `${ready}/${containers.length}`;
}

function podRestarts(pod: Json): number {
  return containerStatuses(pod).reduce(
    (sum, container) => sum + (Number(container.restartCount) || 0),
    0,
  );
}

/** As kubectl shows it: Terminating, a container's waiting or terminated reason, or the phase. */
function podStatus(pod: Json): string {
  if ((pod.metadata as Json).deletionTimestamp) {
    return 'Terminating';
  }
  const podReason = text(status(pod).reason);
  if (podReason) {
    return podReason;
  }
  let reason = text(status(pod).phase) || 'Pending';
  for (const container of containerStatuses(pod)) {
    const state = (container.state as Json | undefined) ?? {};
    const waiting = state.waiting as Json | undefined;
    const terminated = state.terminated as Json | undefined;
    if (waiting && text(waiting.reason)) {
      reason = text(waiting.reason);
    } else if (terminated) {
      reason = text(terminated.reason) || `ExitCode:${String(terminated.exitCode)}`;
    }
  }
  if (reason === 'Pending' && containerStatuses(pod).length === 0 && spec(pod).nodeName) {
    return 'ContainerCreating';
  }
  return reason;
}

/** As kubectl's printer has it: the alias of an ExternalName, a LoadBalancer's pending address. */
function externalIp(service: Json): string {
  const external = ((spec(service).externalIPs as string[] | undefined) ?? []).join(',');
  const ingress = (
    (((service.status as Json | undefined)?.loadBalancer as Json | undefined)?.ingress as
      Json[] | undefined) ?? []
  ).map((entry) => text(entry.ip) || text(entry.hostname));
  switch (spec(service).type) {
    case 'ExternalName':
      return text(spec(service).externalName) || none;
    case 'LoadBalancer':
      return [...ingress, ...(external ? [external] : [])].join(',') || '<pending>';
    default:
      return external || none;
  }
}

function servicePorts(service: Json): string {
  const ports = (spec(service).ports as Json[] | undefined) ?? [];
  if (ports.length === 0) {
    return none;
  }
  return ports
    .map((port) => {
      const nodePort = text(port.nodePort);
      return `${String(port.port)}${nodePort && `:${nodePort}`}/${text(port.protocol) || 'TCP'}`;
    })
    .join(',');
}

function selector(service: Json): string {
  const entries = Object.entries((spec(service).selector as Json | undefined) ?? {});
  return entries.length ? entries.map(([key, value]) => `${key}=${String(value)}`).join(',') : none;
}

function nodeReady(node: Json): boolean {
  return ((status(node).conditions as Json[] | undefined) ?? []).some(
    (condition) => condition.type === 'Ready' && condition.status === 'True',
  );
}

function nodeRoles(node: Json): string {
  const roles = Object.keys(((node.metadata as Json).labels as Json | undefined) ?? {})
    .filter((label) => label.startsWith('node-role.kubernetes.io/'))
    .map((label) => label.slice('node-role.kubernetes.io/'.length));
  return roles.length ? roles.sort().join(',') : none;
}

function age(object: Json, now: number): string {
  const created = Date.parse(text((object.metadata as Json).creationTimestamp));
  return Number.isNaN(created) ? '<unknown>' : humanDuration((now - created) / 1000);
}

/** kubectl's short duration: 45s, 3m20s, 25m, 5h10m, 30h, 3d4h, 40d, 2y30d. */
export function humanDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(seconds / 3600);
  const days = Math.floor(hours / 24);
  if (seconds < 120) {
    return `${seconds}s`;
  }
  if (minutes < 10) {
    return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  }
  if (minutes < 180) {
    return `${minutes}m`;
  }
  if (hours < 8) {
    return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  }
  if (hours < 48) {
    return `${hours}h`;
  }
  if (hours < 24 * 8) {
    return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  }
  if (days < 365 * 2) {
    return `${days}d`;
  }
  const years = Math.floor(days / 365);
  return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
}

const accessModeAbbreviations: Record<string, string> = {
  ReadWriteOnce: 'RWO',
  ReadOnlyMany: 'ROX',
  ReadWriteMany: 'RWX',
  ReadWriteOncePod: 'RWOP',
};

function accessModes(holder: Json): string {
  const modes = Array.isArray(holder.accessModes) ? (holder.accessModes as unknown[]) : [];
  return modes.map((mode) => accessModeAbbreviations[text(mode)] ?? text(mode)).join(',');
}

function storage(capacity: unknown): string {
  return text((capacity as Json | undefined)?.storage);
}

function claimOf(volume: Json): string {
  const claim = spec(volume).claimRef as Json | undefined;
  return claim ? `${text(claim.namespace)}/${text(claim.name)}` : '';
}

/** A claim or volume being deleted shows as Terminating, as kubectl prints it. */
function storageStatus(object: Json): string {
  return (object.metadata as Json).deletionTimestamp ? 'Terminating' : text(status(object).phase);
}
