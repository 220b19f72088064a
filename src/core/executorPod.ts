import { posix } from 'node:path';
import { randomUUID } from 'node:crypto';
import { OptionError, SpecError } from './errors.ts';
import { keepAliveCommand } from './idleStop.ts';
import { instanceLabel, managedByLabel, managedByValue } from './podLabels.ts';
import { stampSpecHash } from './specHash.ts';
import { describe, loadSpec, type JsonObject, type SpecInput } from './specLoader.ts';

export const executorContainerName = 'autogen-executor';

const podNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates a pod name as the apiserver does (DNS-1123 subdomain; the seed accepted `a-`). */
export function validatePodName(name: string, option = 'podName'): void {
  if (name.length === 0 || name.length > 253 || !podNamePattern.test(name)) {
    throw new OptionError(
      option,
      `"${name}" is not a valid pod name: use at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
    );
  }
}

export function validateWorkspacePath(path: string): void {
  if (!posix.isAbsolute(path)) {
    throw new OptionError(
      'workspacePath',
      `must be an absolute POSIX path inside the pod, got "${path}"`,
    );
  }
}

export interface ExecutorPodOptions {
  namespace: string;
  podName?: string;
  image: string;
  containerName: string;
  command?: string[];
  args?: string[];
  workspacePath: string;
  volume?: SpecInput;
  podSpec?: SpecInput;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resources?: JsonObject;
  activeDeadlineSeconds?: number;
  /** The keep-alive exits after this many seconds without activity; 0 or none: never. */
  idleTimeoutSeconds?: number;
  executorId: string;
}

export interface ExecutorPodManifest {
  pod: JsonObject;
  name: string;
  namespace: string;
}

const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The executor pod: the seed's default (container `autogen-executor`, `python:3-slim`,
 * restartPolicy Never, no service account token) with labels and a TERM-aware keep-alive that
 * stops the pod once idle (idleStop.ts), or the
 * user's podSpec merged with those defaults by the seed's rules. A `volume` is mounted at the
 * workspace in the executor container in both cases.
 */
export function buildExecutorPod(options: ExecutorPodOptions): ExecutorPodManifest {
  const volume = options.volume === undefined ? undefined : loadVolume(options.volume);
  const command = options.command ?? keepAliveCommand(options.idleTimeoutSeconds);
  const labels = {
    ...options.labels,
    [managedByLabel]: managedByValue,
    [instanceLabel]: options.executorId,
  };
  const defaultName = options.podName ?? `autogen-code-exec-${randomUUID()}`;
  const defaultContainer: JsonObject = {
    name: options.containerName,
    image: options.image,
    command,
    ...(options.args ? { args: options.args } : {}),
    workingDir: options.workspacePath,
    ...(options.resources ? { resources: options.resources } : {}),
    ...(volume ? { volumeMounts: [{ name: volume.name, mountPath: options.workspacePath }] } : {}),
  };
  let pod: JsonObject;
  let source = 'default pod';
  if (options.podSpec === undefined) {
    pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: defaultName,
        namespace: options.namespace,
        labels,
        ...(options.annotations ? { annotations: options.annotations } : {}),
      },
      spec: {
        automountServiceAccountToken: false,
        restartPolicy: 'Never',
        containers: [defaultContainer],
        ...(volume ? { volumes: [volume] } : {}),
        ...(options.activeDeadlineSeconds
          ? { activeDeadlineSeconds: options.activeDeadlineSeconds }
          : {}),
      },
    };
  } else {
    const loaded = loadSpec(options.podSpec, 'Pod', 'podSpec');
    source = loaded.source;
    pod = mergeWithDefaults(loaded.spec, loaded.source, options, defaultName, labels, volume);
  }
  checkPodShape(pod, source, options.containerName);
  stampSpecHash(pod);
  const metadata = pod.metadata as JsonObject;
  const name = String(metadata.name);
  validatePodName(name, `${source}: metadata.name`);
  return { pod, name, namespace: String(metadata.namespace) };
}

function mergeWithDefaults(
  spec: JsonObject,
  source: string,
  options: ExecutorPodOptions,
  defaultName: string,
  labels: Record<string, string>,
  volume: JsonObject | undefined,
): JsonObject {
  const pod: JsonObject = { ...spec, apiVersion: 'v1', kind: 'Pod' };
  const command = options.command ?? keepAliveCommand(options.idleTimeoutSeconds);
  if (pod.metadata !== undefined && !isObject(pod.metadata)) {
    throw new SpecError(
      `${source}: metadata must be a mapping, got ${describe(pod.metadata)}`,
      source,
      'metadata',
    );
  }
  const metadata: JsonObject = { ...pod.metadata };
  metadata.name ??= defaultName;
  metadata.namespace ??= options.namespace;
  metadata.labels = { ...(isObject(metadata.labels) ? metadata.labels : {}), ...labels };
  if (options.annotations) {
    metadata.annotations = {
      ...(isObject(metadata.annotations) ? metadata.annotations : {}),
      ...options.annotations,
    };
  }
  pod.metadata = metadata;
  if (pod.spec === undefined) {
    pod.spec = {};
  } else if (!isObject(pod.spec)) {
    throw new SpecError(
      `${source}: spec must be a mapping, got ${describe(pod.spec)}`,
      source,
      'spec',
    );
  }
  const podSpec: JsonObject = { ...(pod.spec as JsonObject) };
  podSpec.automountServiceAccountToken ??= false;
  podSpec.restartPolicy ??= 'Never';
  if (options.activeDeadlineSeconds) {
    podSpec.activeDeadlineSeconds ??= options.activeDeadlineSeconds;
  }
  if (podSpec.containers === undefined) {
    podSpec.containers = [
      {
        name: options.containerName,
        image: options.image,
        command,
        ...(options.args ? { args: options.args } : {}),
        workingDir: options.workspacePath,
      },
    ];
  }
  if (!Array.isArray(podSpec.containers)) {
    throw new SpecError(
      `${source}: spec.containers must be a list of containers, got ${describe(podSpec.containers)}`,
      source,
      'spec.containers',
    );
  }
  // A user's executor container without a command would run the image's default (python3's
  // REPL exits at once): give it the keep-alive.
  podSpec.containers = (podSpec.containers as unknown[]).map((container) =>
    isObject(container) &&
    container.name === options.containerName &&
    container.command === undefined &&
    container.args === undefined
      ? { ...container, command }
      : container,
  );
  if (volume) {
    const volumes = Array.isArray(podSpec.volumes) ? [...(podSpec.volumes as JsonObject[])] : [];
    if (!volumes.some((v) => isObject(v) && v.name === volume.name)) {
      volumes.push(volume);
    }
    podSpec.volumes = volumes;
    podSpec.containers = (podSpec.containers as unknown[]).map((container) => {
      if (!isObject(container) || container.name !== options.containerName) {
        return container;
      }
      const mounts = Array.isArray(container.volumeMounts)
        ? [...(container.volumeMounts as JsonObject[])]
        : [];
      if (!mounts.some((m) => isObject(m) && m.name === volume.name)) {
        mounts.push({ name: volume.name, mountPath: options.workspacePath });
      }
      return { ...container, volumeMounts: mounts };
    });
  }
  pod.spec = podSpec;
  return pod;
}

function checkPodShape(pod: JsonObject, source: string, containerName: string): void {
  const containers = (pod.spec as JsonObject).containers as unknown[];
  containers.forEach((container, index) => {
    const field = `spec.containers[${index}]`;
    if (!isObject(container)) {
      throw new SpecError(
        `${source}: ${field} must be a mapping, got ${describe(container)}`,
        source,
        field,
      );
    }
    if (typeof container.name !== 'string' || !container.name) {
      throw new SpecError(
        `${source}: ${field}.name is required (a string)`,
        source,
        `${field}.name`,
      );
    }
    for (const list of ['command', 'args']) {
      const value = container[list];
      if (
        value !== undefined &&
        (!Array.isArray(value) || value.some((item) => typeof item !== 'string'))
      ) {
        throw new SpecError(
          `${source}: ${field}.${list} must be a list of strings, got ${describe(value)}`,
          source,
          `${field}.${list}`,
        );
      }
    }
  });
  const executor = containers.find((c) => isObject(c) && c.name === containerName) as
    JsonObject | undefined;
  if (!executor) {
    const names = containers.map((c) => String((c as JsonObject).name)).join(', ');
    throw new SpecError(
      `${source}: the pod has no container named "${containerName}" (found: ${names}); the executor runs code in that container, so the spec must include it`,
      source,
      'spec.containers',
    );
  }
  if (typeof executor.image !== 'string' || !executor.image) {
    throw new SpecError(`${source}: container "${containerName}" needs an image`, source, 'image');
  }
}

function loadVolume(input: SpecInput): JsonObject {
  const { spec, source } = loadSpec(input, 'Volume', 'volume');
  const volume = { ...spec };
  delete volume.kind;
  delete volume.apiVersion;
  if (typeof volume.name !== 'string' || !volume.name) {
    throw new SpecError(`volume: ${source} needs a name (a string)`, source, 'name');
  }
  const sources = Object.keys(volume).filter((key) => key !== 'name');
  if (sources.length === 0) {
    throw new SpecError(
      `volume: ${source} names no volume source (emptyDir, persistentVolumeClaim, configMap, ...)`,
      source,
    );
  }
  return volume;
}
