import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KubeObject, ObjectStore } from '../store/objectStore.ts';
import { resourceTypeOfKind } from '../resources.ts';
import type { VolumeBind } from './sandbox.ts';
import { claimHostPath } from '../controllers/persistentVolumes.ts';

type Json = Record<string, unknown>;

/** A volume the kubelet cannot set up yet (FailedMount). */
export class MountError extends Error {}

/**
 * Materialises a pod's volumes as host directories: emptyDir (any medium or sizeLimit) per pod,
 * secret and configMap contents as files, hostPath as is, and a persistentVolumeClaim as the host
 * path of the volume it is bound to.
 */
export async function prepareVolumes(
  store: ObjectStore,
  pod: KubeObject,
  podDir: string,
): Promise<Map<string, string>> {
  const namespace = pod.metadata.namespace ?? 'default';
  const paths = new Map<string, string>();
  for (const volume of ((pod.spec as Json).volumes as Json[] | undefined) ?? []) {
    const name = String(volume.name);
    const failure = (message: string) =>
      new MountError(`MountVolume.SetUp failed for volume "${name}" : ${message}`);
    if (volume.emptyDir !== undefined) {
      paths.set(name, await ensureDir(join(podDir, 'volumes', name)));
    } else if (volume.hostPath) {
      const hostPath = volume.hostPath as Json;
      const path = String(hostPath.path);
      if (hostPath.type === 'DirectoryOrCreate') {
        await mkdir(path, { recursive: true });
      }
      paths.set(name, path);
    } else if (volume.persistentVolumeClaim) {
      const claim = String((volume.persistentVolumeClaim as Json).claimName);
      const found = claimHostPath(store, namespace, claim);
      if ('problem' in found) {
        throw failure(found.problem);
      }
      paths.set(name, found.path);
    } else if (volume.secret || volume.configMap) {
      const isSecret = Boolean(volume.secret);
      const source = (volume.secret ?? volume.configMap) as Json;
      const objectName = String(isSecret ? source.secretName : source.name);
      const object = store.find(
        resourceTypeOfKind(isSecret ? 'Secret' : 'ConfigMap'),
        namespace,
        objectName,
      );
      if (!object) {
        if (source.optional === true) {
          paths.set(name, await ensureDir(join(podDir, 'volumes', name)));
          continue;
        }
        throw failure(`${isSecret ? 'secret' : 'configmap'} "${objectName}" not found`);
      }
      const dir = await ensureDir(join(podDir, 'volumes', name));
      const data = (object.data ?? {}) as Record<string, string>;
      const items: Json[] =
        (source.items as Json[] | undefined) ??
        Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        const value = data[String(item.key)];
        if (value === undefined) {
          throw failure(
            `references non-existent ${isSecret ? 'secret' : 'config'} key: ${String(item.key)}`,
          );
        }
        const file = join(dir, String(item.path));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, isSecret ? Buffer.from(value, 'base64') : value);
        await chmod(file, Number(item.mode ?? source.defaultMode ?? 0o644));
      }
      paths.set(name, dir);
    } else {
      throw failure(
        'this volume type is not supported by the emulator (use emptyDir, hostPath, secret, configMap or persistentVolumeClaim)',
      );
    }
  }
  return paths;
}

export function volumeBinds(container: Json, paths: Map<string, string>): VolumeBind[] {
  return ((container.volumeMounts as Json[] | undefined) ?? []).map((mount) => {
    const base = paths.get(String(mount.name)) ?? '';
    return {
      hostPath:
        typeof mount.subPath === 'string' && mount.subPath ? join(base, mount.subPath) : base,
      mountPath: String(mount.mountPath),
      readOnly: mount.readOnly === true,
    };
  });
}

/** The container's securityContext.readOnlyRootFilesystem (volumes stay as their mounts say). */
export function readOnlyRootFilesystem(container: Json): boolean {
  return (container.securityContext as Json | undefined)?.readOnlyRootFilesystem === true;
}

async function ensureDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o777 });
  await chmod(path, 0o777);
  return path;
}
