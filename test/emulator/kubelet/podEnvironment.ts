import type { KubeObject, ObjectStore } from '../store/objectStore.ts';
import { text } from '../jsonValues.ts';
import { resourceTypeOfKind } from '../resources.ts';

type Json = Record<string, unknown>;

const secrets = resourceTypeOfKind('Secret');
const configMaps = resourceTypeOfKind('ConfigMap');

/** A reason the kubelet cannot create the container yet (CreateContainerConfigError). */
export class ContainerConfigError extends Error {}

function lookupData(
  store: ObjectStore,
  kind: 'Secret' | 'ConfigMap',
  namespace: string,
  name: string,
): Record<string, string> | undefined {
  const object = store.find(kind === 'Secret' ? secrets : configMaps, namespace, name);
  if (!object) {
    return undefined;
  }
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries((object.data ?? {}) as Record<string, string>)) {
    data[key] = kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
  }
  if (kind === 'Secret') {
    Object.assign(data, (object.stringData ?? {}) as Record<string, string>);
  }
  return data;
}

function fieldRefValue(pod: KubeObject, fieldPath: string): string {
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (label) {
    return (pod.metadata[label[1]!] as Record<string, string> | undefined)?.[label[2]!] ?? '';
  }
  const spec = pod.spec as Json;
  const status = (pod.status ?? {}) as Json;
  const known: Record<string, unknown> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': spec.nodeName,
    'spec.serviceAccountName': spec.serviceAccountName,
    'status.podIP': status.podIP,
    'status.hostIP': status.hostIP,
  };
  return text(known[fieldPath]);
}

/** Expands `$(NAME)` references the way the kubelet does; `$$(NAME)` stays literal. */
export function expandReferences(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g,
    (match, name: string | undefined) => {
      if (match === '$$') {
        return '$';
      }
      return name !== undefined && name in env ? env[name]! : match;
    },
  );
}

/** The container's environment from the image, the pod and `env`/`envFrom`, or a config error. */
export function containerEnvironment(
  store: ObjectStore,
  pod: KubeObject,
  container: Json,
  imageEnv: Record<string, string>,
): Record<string, string> {
  const namespace = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = {
    ...imageEnv,
    HOSTNAME: pod.metadata.name ?? '',
    HOME: '/root',
  };
  for (const source of (container.envFrom as Json[] | undefined) ?? []) {
    const prefix = typeof source.prefix === 'string' ? source.prefix : '';
    for (const kind of ['Secret', 'ConfigMap'] as const) {
      const ref = source[kind === 'Secret' ? 'secretRef' : 'configMapRef'] as Json | undefined;
      if (!ref) {
        continue;
      }
      const data = lookupData(store, kind, namespace, String(ref.name));
      if (!data) {
        if (ref.optional === true) {
          continue;
        }
        throw new ContainerConfigError(`${kind.toLowerCase()} "${String(ref.name)}" not found`);
      }
      for (const [key, value] of Object.entries(data)) {
        env[prefix + key] = value;
      }
    }
  }
  for (const variable of (container.env as Json[] | undefined) ?? []) {
    const name = String(variable.name);
    if (typeof variable.value === 'string') {
      env[name] = expandReferences(variable.value, env);
      continue;
    }
    const from = (variable.valueFrom ?? {}) as Json;
    if (from.fieldRef) {
      env[name] = fieldRefValue(pod, String((from.fieldRef as Json).fieldPath));
      continue;
    }
    for (const kind of ['Secret', 'ConfigMap'] as const) {
      const ref = from[kind === 'Secret' ? 'secretKeyRef' : 'configMapKeyRef'] as Json | undefined;
      if (!ref) {
        continue;
      }
      const data = lookupData(store, kind, namespace, String(ref.name));
      const value = data?.[String(ref.key)];
      if (value !== undefined) {
        env[name] = value;
      } else if (ref.optional !== true) {
        throw new ContainerConfigError(
          data
            ? `couldn't find key ${String(ref.key)} in ${kind} ${namespace}/${String(ref.name)}`
            : `${kind.toLowerCase()} "${String(ref.name)}" not found`,
        );
      }
    }
    env[name] ??= '';
  }
  return env;
}

/** The container's argv from the image's entrypoint/cmd and the spec's command/args. */
export function containerArgv(
  container: Json,
  image: { entrypoint: string[]; cmd: string[] },
  env: Record<string, string>,
): string[] {
  const command = container.command as string[] | undefined;
  const args = container.args as string[] | undefined;
  const argv = command
    ? [...command, ...(args ?? [])]
    : [...image.entrypoint, ...(args ?? image.cmd)];
  return argv.map((part) => expandReferences(part, env));
}
