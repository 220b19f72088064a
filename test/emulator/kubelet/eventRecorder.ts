import { randomBytes } from 'node:crypto';
import { timestamp, type KubeObject, type ObjectStore } from '../store/objectStore.ts';
import { resourceTypeOfKind } from '../resources.ts';

const eventType = resourceTypeOfKind('Event');

export interface EventSource {
  component: string;
  host?: string;
}

/** Writes core/v1 Events about objects, folding repeats into `count` as the kubelet's recorder does. */
export class EventRecorder {
  private readonly recent = new Map<string, string>();

  constructor(private readonly store: ObjectStore) {}

  record(
    object: KubeObject,
    options: {
      type: 'Normal' | 'Warning';
      reason: string;
      message: string;
      source: EventSource;
      fieldPath?: string;
    },
  ): void {
    const namespace = object.metadata.namespace ?? 'default';
    const involvedObject = {
      kind: object.kind,
      namespace,
      name: object.metadata.name,
      uid: object.metadata.uid,
      apiVersion: object.apiVersion,
      resourceVersion: object.metadata.resourceVersion,
      ...(options.fieldPath ? { fieldPath: options.fieldPath } : {}),
    };
    const now = timestamp();
    const dedupeKey = [
      involvedObject.uid,
      options.fieldPath,
      options.type,
      options.reason,
      options.message,
    ].join('|');
    const existing = this.recent.get(dedupeKey);
    if (existing) {
      const updated = this.store.mutate(eventType, namespace, existing, (event) => {
        event.count = Number(event.count ?? 1) + 1;
        event.lastTimestamp = now;
      });
      if (updated) {
        return;
      }
    }
    const name = `${object.metadata.name ?? 'object'}.${randomBytes(8).toString('hex')}`;
    this.store.create(eventType, {
      metadata: { name, namespace },
      involvedObject,
      reason: options.reason,
      message: options.message,
      source: options.source,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type: options.type,
      eventTime: null,
      reportingComponent: options.source.component,
      reportingInstance: options.source.host ?? '',
    });
    this.recent.set(dedupeKey, name);
  }
}
