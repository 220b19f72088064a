import { randomUUID } from 'node:crypto';
import { alreadyExists, gone, notFound } from '../apiErrors.ts';
import { apiVersionOf, type ResourceType } from '../resources.ts';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  type: WatchEventType;
  resource: string;
  namespace: string;
  /** The object as of this event; for DELETED, the last state with the deletion's resourceVersion. */
  object: KubeObject;
  /** The object before this event (MODIFIED only), for selector transitions. */
  previous?: KubeObject;
  resourceVersion: number;
}

type Listener = (event: StoredEvent) => void;

const historyLimit = 10_000;

/**
 * Objects by resource, namespace and name, with one resourceVersion sequence for all of them (as
 * etcd's revision) and a bounded event history so watches can resume from a resourceVersion.
 */
export class ObjectStore {
  private revision = 1000;
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: StoredEvent[] = [];
  private readonly listeners = new Set<Listener>();

  get currentResourceVersion(): string {
    return String(this.revision);
  }

  get(type: ResourceType, namespace: string, name: string): KubeObject {
    const object = this.objects.get(key(type, namespace, name));
    if (!object) {
      throw notFound(type.resource, name, type.group);
    }
    return structuredClone(object);
  }

  find(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const object = this.objects.get(key(type, namespace, name));
    return object ? structuredClone(object) : undefined;
  }

  list(type: ResourceType, namespace?: string): KubeObject[] {
    const prefix = namespace === undefined ? `${type.resource}/` : `${type.resource}/${namespace}/`;
    const found: KubeObject[] = [];
    for (const [k, object] of this.objects) {
      if (k.startsWith(prefix)) {
        found.push(structuredClone(object));
      }
    }
    return found.sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`.localeCompare(
        `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`,
      ),
    );
  }

  /** Stores a new object, filling uid, creationTimestamp and resourceVersion. */
  create(type: ResourceType, object: KubeObject): KubeObject {
    const namespace = type.namespaced ? (object.metadata.namespace ?? '') : '';
    const name = object.metadata.name ?? '';
    const k = key(type, namespace, name);
    if (this.objects.has(k)) {
      throw alreadyExists(type.resource, name, type.group);
    }
    const stored: KubeObject = structuredClone({
      ...object,
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...object.metadata,
        uid: randomUUID(),
        creationTimestamp: object.metadata.creationTimestamp ?? timestamp(),
        resourceVersion: String(++this.revision),
      },
    });
    this.objects.set(k, stored);
    this.record({
      type: 'ADDED',
      resource: type.resource,
      namespace,
      object: stored,
      resourceVersion: this.revision,
    });
    return structuredClone(stored);
  }

  /** Replaces an existing object (the caller has checked preconditions) and bumps its version. */
  replace(type: ResourceType, object: KubeObject): KubeObject {
    const namespace = type.namespaced ? (object.metadata.namespace ?? '') : '';
    const name = object.metadata.name ?? '';
    const k = key(type, namespace, name);
    const previous = this.objects.get(k);
    if (!previous) {
      throw notFound(type.resource, name, type.group);
    }
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.revision);
    this.objects.set(k, stored);
    this.record({
      type: 'MODIFIED',
      resource: type.resource,
      namespace,
      object: stored,
      previous,
      resourceVersion: this.revision,
    });
    return structuredClone(stored);
  }

  /** Applies `change` to the stored object, if it still exists; returns the new object. */
  mutate(
    type: ResourceType,
    namespace: string,
    name: string,
    change: (object: KubeObject) => void,
  ): KubeObject | undefined {
    const current = this.objects.get(key(type, namespace, name));
    if (!current) {
      return undefined;
    }
    const next = structuredClone(current);
    change(next);
    return this.replace(type, next);
  }

  remove(type: ResourceType, namespace: string, name: string): KubeObject {
    const k = key(type, namespace, name);
    const object = this.objects.get(k);
    if (!object) {
      throw notFound(type.resource, name, type.group);
    }
    this.objects.delete(k);
    const last = structuredClone(object);
    last.metadata.resourceVersion = String(++this.revision);
    this.record({
      type: 'DELETED',
      resource: type.resource,
      namespace,
      object: last,
      resourceVersion: this.revision,
    });
    return structuredClone(last);
  }

  /**
   * Calls `listener` for every event after `fromResourceVersion`, then for each new event, until the
   * returned function is called. Throws 410 Gone when that version is older than the history kept.
   */
  subscribe(fromResourceVersion: number, listener: Listener): () => void {
    const oldest = this.history[0]?.resourceVersion ?? this.revision + 1;
    if (fromResourceVersion < oldest - 1 && this.history.length >= historyLimit) {
      throw gone(`too old resource version: ${fromResourceVersion} (${oldest - 1})`);
    }
    for (const event of this.history) {
      if (event.resourceVersion > fromResourceVersion) {
        listener(event);
      }
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private readonly pending: StoredEvent[] = [];
  private dispatching = false;

  /**
   * Records an event and delivers it to every listener. A listener that writes to the store (the
   * kubelet does) queues its event behind the current one, so every listener sees one order.
   */
  private record(event: StoredEvent): void {
    this.history.push(event);
    if (this.history.length > historyLimit) {
      this.history.shift();
    }
    this.pending.push(event);
    if (this.dispatching) {
      return;
    }
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        for (const listener of [...this.listeners]) {
          listener(next);
        }
      }
    } finally {
      this.dispatching = false;
    }
  }
}

function key(type: ResourceType, namespace: string, name: string): string {
  return type.namespaced ? `${type.resource}/${namespace}/${name}` : `${type.resource}//${name}`;
}

export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
