import { ApiError, invalid } from '../apiErrors.ts';
import { resourceTypeOfKind, type ResourceType } from '../resources.ts';
import { timestamp, type KubeObject, type ObjectStore } from '../store/objectStore.ts';

type Json = Record<string, unknown>;

const namespaces = resourceTypeOfKind('Namespace');
const pods = resourceTypeOfKind('Pod');

/** The grace period a delete asks for: the query's gracePeriodSeconds, else DeleteOptions'. */
export function gracePeriod(query: URLSearchParams, options: Json): number | undefined {
  const fromQuery = query.get('gracePeriodSeconds');
  const value = fromQuery !== null ? Number(fromQuery) : options.gracePeriodSeconds;
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, value) : undefined;
}

/**
 * Graceful pod deletion: the apiserver only marks the pod (deletionTimestamp); the kubelet stops
 * its containers and then removes it. A grace period of 0, or a pod never scheduled, goes at once.
 */
export function deletePod(
  store: ObjectStore,
  pod: KubeObject,
  requestedGrace: number | undefined,
): KubeObject {
  const spec = pod.spec as Json;
  const grace = requestedGrace ?? Number(spec.terminationGracePeriodSeconds ?? 30);
  const namespace = pod.metadata.namespace ?? '';
  const name = pod.metadata.name ?? '';
  if (grace === 0 || !spec.nodeName) {
    return store.remove(pods, namespace, name);
  }
  const existingGrace = pod.metadata.deletionGracePeriodSeconds;
  if (pod.metadata.deletionTimestamp && existingGrace !== undefined && existingGrace <= grace) {
    return pod;
  }
  return (
    store.mutate(pods, namespace, name, (object) => {
      object.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
      object.metadata.deletionGracePeriodSeconds = grace;
    }) ?? pod
  );
}

/** The namespaces an apiserver makes at start and never lets be deleted. */
export const systemNamespaces = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];

/** Marks the namespace Terminating, deletes its content, and removes it once its pods are gone. */
export function deleteNamespace(store: ObjectStore, namespace: KubeObject): KubeObject {
  const name = namespace.metadata.name ?? '';
  if (systemNamespaces.includes(name)) {
    throw new ApiError(
      403,
      'Forbidden',
      `namespaces "${name}" is forbidden: this namespace may not be deleted`,
      { name, kind: 'namespaces' },
    );
  }
  if (namespace.metadata.deletionTimestamp) {
    return namespace;
  }
  const marked = store.mutate(namespaces, '', name, (object) => {
    object.metadata.deletionTimestamp = timestamp();
    object.metadata.deletionGracePeriodSeconds = 0;
    object.status = { phase: 'Terminating' };
  })!;
  for (const pod of store.list(pods, name)) {
    if (!pod.metadata.deletionTimestamp) {
      deletePod(store, pod, undefined);
    }
  }
  const finish = () => {
    if (store.list(pods, name).length > 0) {
      setTimeout(finish, 100).unref();
      return;
    }
    for (const kind of ['Secret', 'ConfigMap', 'Service', 'PersistentVolumeClaim', 'Event']) {
      const type = resourceTypeOfKind(kind);
      for (const object of store.list(type, name)) {
        store.remove(type, name, object.metadata.name ?? '');
      }
    }
    if (store.find(namespaces, '', name)) {
      store.remove(namespaces, '', name);
    }
  };
  setTimeout(finish, 0).unref();
  return marked;
}

/**
 * Deletion of an object with finalizers: the apiserver only marks it (deletionTimestamp) and
 * returns it; it goes once its last finalizer is removed (finalized). Undefined: none to wait for.
 */
export function markForFinalizers(
  store: ObjectStore,
  type: ResourceType,
  object: KubeObject,
): KubeObject | undefined {
  if (!object.metadata.finalizers?.length) {
    return undefined;
  }
  if (object.metadata.deletionTimestamp) {
    return object;
  }
  return store.mutate(
    type,
    object.metadata.namespace ?? '',
    object.metadata.name ?? '',
    (marked) => {
      marked.metadata.deletionTimestamp = timestamp();
      marked.metadata.deletionGracePeriodSeconds = 0;
    },
  );
}

/** Removes an object from the store: a plain delete, or one whose last finalizer went. */
export function removeObject(
  store: ObjectStore,
  type: ResourceType,
  object: KubeObject,
): KubeObject {
  return store.remove(type, object.metadata.namespace ?? '', object.metadata.name ?? '');
}

/** No finalizer may be added to an object being deleted, as kube-apiserver refuses it. */
export function checkFinalizers(current: KubeObject, next: KubeObject): void {
  if (!current.metadata.deletionTimestamp) {
    return;
  }
  const added = (next.metadata.finalizers ?? []).filter(
    (finalizer) => !(current.metadata.finalizers ?? []).includes(finalizer),
  );
  if (added.length > 0) {
    throw invalid(current.kind ?? '', current.metadata.name ?? '', [
      {
        field: 'metadata.finalizers',
        type: 'FieldValueForbidden',
        detail: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
      },
    ]);
  }
}
