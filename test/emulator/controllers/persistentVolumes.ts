import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventRecorder } from '../kubelet/eventRecorder.ts';
import type { KubeObject, ObjectStore, StoredEvent } from '../store/objectStore.ts';
import { resourceTypeOfKind } from '../resources.ts';
import { claimProtection, defaultClassAnnotation, isDefaultClass } from '../apiserver/defaults.ts';
import { removeObject } from '../apiserver/gracefulDeletion.ts';

type Json = Record<string, unknown>;

const claims = resourceTypeOfKind('PersistentVolumeClaim');
const volumes = resourceTypeOfKind('PersistentVolume');
const storageClasses = resourceTypeOfKind('StorageClass');
const pods = resourceTypeOfKind('Pod');

/** What kube-controller-manager's in-tree provisioner is called (with --enable-hostpath-provisioner). */
const hostPathProvisioner = 'kubernetes.io/host-path';
const controllerSource = { component: 'persistentvolume-controller' };

/** The StorageClass a single-node cluster comes with (kind and minikube call theirs `standard`). */
export function standardStorageClass(): KubeObject {
  return {
    metadata: { name: 'standard', annotations: { [defaultClassAnnotation]: 'true' } },
    provisioner: hostPathProvisioner,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
  };
}

/**
 * kube-controller-manager's persistent volume controller with the host-path provisioner: a claim of
 * a class it provisions gets a new volume (a directory on the node) and is bound to it; a claim of
 * an unknown class stays Pending with a ProvisioningFailed event; a claim's deletion releases its
 * volume, which the Delete reclaim policy removes with its directory.
 */
export class PersistentVolumeController {
  private unsubscribe: (() => void) | undefined;
  private readonly pending = new Set<Promise<void>>();
  /** Claims (by uid) being provisioned: a second trigger for one of them waits for nothing. */
  private readonly provisioning = new Set<string>();
  private stopped = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly events: EventRecorder,
    private readonly volumesDir: string,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe(0, (event) => this.onEvent(event));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await Promise.all(this.pending);
  }

  private onEvent(event: StoredEvent): void {
    if (this.stopped) {
      return;
    }
    if (event.resource === 'persistentvolumeclaims' && event.type === 'ADDED') {
      // Controllers act after the write that told them, never inside it.
      this.later(() => this.provision(event.object));
    } else if (event.resource === 'persistentvolumeclaims' && event.type === 'DELETED') {
      this.later(() => this.release(event.object));
    } else if (
      (event.resource === 'persistentvolumeclaims' && event.object.metadata.deletionTimestamp) ||
      (event.resource === 'pods' && event.type === 'DELETED')
    ) {
      const namespace = event.namespace;
      this.later(() => {
        this.releaseUnusedClaims(namespace);
        return Promise.resolve();
      });
    } else if (
      event.resource === 'persistentvolumes' &&
      event.type === 'ADDED' &&
      !(event.object.spec as Json).claimRef
    ) {
      // A volume made by hand waits for a claim; binding one to it is not modelled.
      this.later(() => {
        this.markAvailable(event.object);
        return Promise.resolve();
      });
    } else if (event.resource === 'storageclasses' && event.type === 'ADDED') {
      // A new default class is given to the claims that were made naming none (Kubernetes 1.28+).
      if (isDefaultClass(event.object)) {
        const className = event.object.metadata.name ?? '';
        this.later(() => {
          this.assignDefaultClass(className);
          return Promise.resolve();
        });
      }
      // A claim that waited for its class is provisioned once the class exists.
      for (const claim of this.store.list(claims)) {
        if ((claim.status as Json | undefined)?.phase === 'Pending') {
          this.later(() => this.provision(claim));
        }
      }
    }
  }

  /**
   * The pvc-protection controller: a claim marked for deletion loses its finalizer (and so goes)
   * once no pod placed on a node mounts it (one never scheduled does not hold it; one that ended
   * does until it is deleted).
   */
  private releaseUnusedClaims(namespace: string): void {
    const inUse = new Set(
      this.store
        .list(pods, namespace)
        .filter((pod) => Boolean((pod.spec as Json).nodeName))
        .flatMap((pod) => ((pod.spec as Json).volumes as Json[] | undefined) ?? [])
        .map((volume) => (volume.persistentVolumeClaim as Json | undefined)?.claimName)
        .filter((name): name is string => typeof name === 'string'),
    );
    for (const claim of this.store.list(claims, namespace)) {
      const name = claim.metadata.name ?? '';
      if (
        !claim.metadata.deletionTimestamp ||
        !claim.metadata.finalizers?.includes(claimProtection) ||
        inUse.has(name)
      ) {
        continue;
      }
      const remaining = (claim.metadata.finalizers ?? []).filter(
        (finalizer) => finalizer !== claimProtection,
      );
      // Removing the last finalizer deletes the claim, as the apiserver does on that update.
      if (remaining.length === 0) {
        removeObject(this.store, claims, claim);
      } else {
        this.store.mutate(claims, namespace, name, (stored) => {
          stored.metadata.finalizers = remaining;
        });
      }
    }
  }

  private assignDefaultClass(className: string): void {
    for (const claim of this.store.list(claims)) {
      const spec = claimSpec(claim);
      if (
        (spec.storageClassName === undefined || spec.storageClassName === null) &&
        !spec.volumeName
      ) {
        this.store.mutate(
          claims,
          claim.metadata.namespace ?? '',
          claim.metadata.name ?? '',
          (stored) => {
            claimSpec(stored).storageClassName = className;
          },
        );
      }
    }
  }

  private markAvailable(volume: KubeObject): void {
    this.store.mutate(volumes, '', volume.metadata.name ?? '', (stored) => {
      if (stored.metadata.uid === volume.metadata.uid && !(stored.spec as Json).claimRef) {
        stored.status = { phase: 'Available' };
      }
    });
  }

  private later(work: () => Promise<void>): void {
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((error: unknown) => {
        process.stderr.write(`emulator volume controller: ${String(error)}\n`);
      });
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
  }

  private async provision(added: KubeObject): Promise<void> {
    const uid = added.metadata.uid ?? '';
    if (this.provisioning.has(uid)) {
      return;
    }
    this.provisioning.add(uid);
    try {
      await this.provisionClaim(added);
    } finally {
      this.provisioning.delete(uid);
    }
  }

  /** The claim as stored now, if it is still that claim and still waits for a volume. */
  private unboundClaim(added: KubeObject): KubeObject | undefined {
    const namespace = added.metadata.namespace ?? 'default';
    const claim = this.store.find(claims, namespace, added.metadata.name ?? '');
    return claim && claim.metadata.uid === added.metadata.uid && !claimSpec(claim).volumeName
      ? claim
      : undefined;
  }

  private async provisionClaim(added: KubeObject): Promise<void> {
    const namespace = added.metadata.namespace ?? 'default';
    const claim = this.unboundClaim(added);
    if (!claim) {
      return;
    }
    const className = claimSpec(claim).storageClassName;
    if (typeof className !== 'string' || className === '') {
      return;
    }
    const storageClass = this.store.find(storageClasses, '', className);
    if (!storageClass) {
      this.events.record(claim, {
        type: 'Warning',
        reason: 'ProvisioningFailed',
        message: `storageclass.storage.k8s.io "${className}" not found`,
        source: controllerSource,
      });
      return;
    }
    if (storageClass.provisioner !== hostPathProvisioner) {
      this.events.record(claim, {
        type: 'Normal',
        reason: 'ExternalProvisioning',
        message: `Waiting for a volume to be created either by the external provisioner '${String(storageClass.provisioner)}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
        source: controllerSource,
      });
      return;
    }
    const volumeName = `pvc-${claim.metadata.uid ?? randomUUID()}`;
    const path = join(this.volumesDir, randomUUID());
    // As the in-tree provisioner makes it: root's, 0750; a non-root container cannot write to it.
    await mkdir(path, { recursive: true, mode: 0o750 });
    // The claim may have gone (or been bound) while the directory was made.
    if (!this.unboundClaim(claim) || this.store.find(volumes, '', volumeName)) {
      await rm(path, { recursive: true, force: true });
      return;
    }
    const spec = claimSpec(claim);
    const capacity = { storage: storageRequest(spec) };
    this.store.create(volumes, {
      metadata: {
        name: volumeName,
        annotations: {
          'kubernetes.io/createdby': 'hostpath-dynamic-provisioner',
          'pv.kubernetes.io/provisioned-by': hostPathProvisioner,
        },
      },
      spec: {
        capacity,
        accessModes: spec.accessModes,
        hostPath: { path, type: '' },
        persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
        storageClassName: className,
        volumeMode: spec.volumeMode ?? 'Filesystem',
        claimRef: {
          kind: 'PersistentVolumeClaim',
          namespace,
          name: claim.metadata.name,
          uid: claim.metadata.uid,
          apiVersion: 'v1',
          resourceVersion: claim.metadata.resourceVersion,
        },
      },
      status: { phase: 'Bound' },
    });
    const bound = this.store.mutate(claims, namespace, claim.metadata.name ?? '', (stored) => {
      if (stored.metadata.uid !== claim.metadata.uid) {
        return;
      }
      stored.metadata.annotations = {
        ...stored.metadata.annotations,
        'pv.kubernetes.io/bind-completed': 'yes',
        'pv.kubernetes.io/bound-by-controller': 'yes',
        'volume.beta.kubernetes.io/storage-provisioner': hostPathProvisioner,
        'volume.kubernetes.io/storage-provisioner': hostPathProvisioner,
      };
      claimSpec(stored).volumeName = volumeName;
      stored.status = { phase: 'Bound', accessModes: spec.accessModes, capacity };
    });
    if (bound) {
      this.events.record(bound, {
        type: 'Normal',
        reason: 'ProvisioningSucceeded',
        message: `Successfully provisioned volume ${volumeName} using ${hostPathProvisioner}`,
        source: controllerSource,
      });
    }
  }

  /** The claim is gone: its volume is deleted with its data (Delete) or kept as Released (Retain). */
  private async release(claim: KubeObject): Promise<void> {
    const volume = this.store
      .list(volumes)
      .find(
        (item) => ((item.spec as Json).claimRef as Json | undefined)?.uid === claim.metadata.uid,
      );
    if (!volume) {
      return;
    }
    const volumeName = volume.metadata.name ?? '';
    const spec = volume.spec as Json;
    if (spec.persistentVolumeReclaimPolicy === 'Delete') {
      const path = (spec.hostPath as Json | undefined)?.path;
      // Only directories this controller made are removed; a hand-made volume's path is the admin's.
      if (typeof path === 'string' && path.startsWith(`${this.volumesDir}/`)) {
        await rm(path, { recursive: true, force: true });
      }
      this.store.remove(volumes, '', volumeName);
      return;
    }
    this.store.mutate(volumes, '', volumeName, (stored) => {
      stored.status = { phase: 'Released' };
    });
  }
}

function claimSpec(claim: KubeObject): Json {
  return (claim.spec ?? {}) as Json;
}

function storageRequest(spec: Json): string {
  return String(((spec.resources as Json).requests as Json).storage);
}

/** Where a claim's data lives on the node: its bound volume's host path. */
export function claimHostPath(
  store: ObjectStore,
  namespace: string,
  claimName: string,
): { path: string } | { problem: string } {
  const claim = store.find(claims, namespace, claimName);
  if (!claim) {
    return { problem: `persistentvolumeclaim "${claimName}" not found` };
  }
  const volumeName = claimSpec(claim).volumeName;
  const volume = typeof volumeName === 'string' ? store.find(volumes, '', volumeName) : undefined;
  const path = (volume?.spec as Json | undefined)?.hostPath as Json | undefined;
  if (!volume || typeof path?.path !== 'string') {
    return { problem: `persistentvolumeclaim "${claimName}" is not bound to a host-path volume` };
  }
  return { path: path.path };
}
