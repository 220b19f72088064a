/** A 1 MiB ReadWriteOnce claim, of the cluster's default class unless one is named. */
export function claimManifest(name: string, storageClassName?: string) {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Mi' } },
      ...(storageClassName ? { storageClassName } : {}),
    },
  };
}
