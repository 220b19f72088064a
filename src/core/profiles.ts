import { OptionError } from './errors.ts';
import { executorContainerName } from './executorPod.ts';
import { describe, loadSpec, type JsonObject, type SpecInput } from './specLoader.ts';

/** A PersistentVolumeClaim mounted into the pod's code container. */
export interface ProfileVolume {
  /** The pod's volume name (a DNS label); default: the claim's name with dots as dashes. */
  name: string;
  claimName: string;
  mountPath: string;
  readOnly: boolean;
}

/** A named pod set-up (`podRunner.profiles`): what differs from the settings for its pods. */
export interface PodProfile {
  name: string;
  /** The executor pod's image. */
  image?: string;
  /** The Jupyter gateway pod's image (it must be able to run the kernel gateway). */
  jupyterImage?: string;
  /** The code container's limits: `cpu`, `memory`, extended resources such as `nvidia.com/gpu`. */
  limits: Record<string, string | number>;
  nodeSelector: Record<string, string>;
  tolerations: JsonObject[];
  volumes: ProfileVolume[];
  env: Record<string, string>;
  /** A Pod manifest the profile starts from instead of the `podRunner.podSpec` setting. */
  podSpec?: SpecInput;
}

/** Which of the window's pods a profile shapes. */
export type ProfilePod = 'executor' | 'kernel';

type Raw = Record<string, unknown>;

const isObject = (value: unknown): value is Raw =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const profileNamePattern = /^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$/;
const dnsLabelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const envNamePattern = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const tolerationOperators = ['Exists', 'Equal'];
const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Reads one profile field, or throws naming its full key and what was expected. */
class ProfileReader {
  constructor(
    private readonly raw: Raw,
    readonly key: string,
  ) {}

  fail(field: string, expected: string, value: unknown): never {
    throw new OptionError(`${this.key}.${field}`, `expected ${expected}, got ${describe(value)}`);
  }

  optionalText(field: string): string | undefined {
    const value = this.raw[field];
    if (value === undefined || value === '') {
      return undefined;
    }
    if (typeof value !== 'string' || !value.trim()) {
      this.fail(field, 'a non-empty string', value);
    }
    return value.trim();
  }

  object(field: string): Raw {
    const value = this.raw[field] ?? {};
    if (!isObject(value)) {
      this.fail(field, 'an object', value);
    }
    return value;
  }

  list(field: string): unknown[] {
    const value = this.raw[field] ?? [];
    if (!Array.isArray(value)) {
      this.fail(field, 'a list', value);
    }
    return value;
  }

  textMap(field: string, keyPattern?: RegExp): Record<string, string> {
    const map = this.object(field);
    for (const [name, value] of Object.entries(map)) {
      if (keyPattern && !keyPattern.test(name)) {
        this.fail(`${field}.${name}`, 'a name of letters, digits, "-", "_" and "."', name);
      }
      if (typeof value !== 'string') {
        this.fail(`${field}.${name}`, 'a string', value);
      }
    }
    return map as Record<string, string>;
  }
}

const knownFields = new Set([
  'image',
  'jupyterImage',
  'resources',
  'nodeSelector',
  'tolerations',
  'volumes',
  'env',
  'podSpec',
]);

/**
 * Validates `podRunner.profiles` (an object of profiles by name) into typed profiles. A bad
 * value throws an OptionError naming its full key (`podRunner.profiles.gpu.resources.gpu`) and
 * the expected type.
 */
export function parseProfiles(raw: unknown, key = 'podRunner.profiles'): PodProfile[] {
  if (raw === undefined || raw === null) {
    return [];
  }
  if (!isObject(raw)) {
    throw new OptionError(key, `expected an object of profiles by name, got ${describe(raw)}`);
  }
  return Object.entries(raw).map(([name, profile]) => parseProfile(name, profile, key));
}

function parseProfile(name: string, raw: unknown, parentKey: string): PodProfile {
  const key = `${parentKey}.${name}`;
  // The name is also the value of the pods' profile label.
  if (!profileNamePattern.test(name) || name.length > 63) {
    throw new OptionError(
      key,
      'a profile name has at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
    );
  }
  if (!isObject(raw)) {
    throw new OptionError(key, `expected an object, got ${describe(raw)}`);
  }
  const unknown = Object.keys(raw).find((field) => !knownFields.has(field));
  if (unknown !== undefined) {
    throw new OptionError(
      `${key}.${unknown}`,
      `unknown field; a profile has ${[...knownFields].join(', ')}`,
    );
  }
  const reader = new ProfileReader(raw, key);
  const image = reader.optionalText('image');
  const jupyterImage = reader.optionalText('jupyterImage');
  const podSpec = raw.podSpec;
  if (podSpec !== undefined && typeof podSpec !== 'string' && !isObject(podSpec)) {
    reader.fail('podSpec', 'a Pod manifest (an object) or the path of a YAML/JSON file', podSpec);
  }
  return {
    name,
    ...(image ? { image } : {}),
    ...(jupyterImage ? { jupyterImage } : {}),
    limits: parseLimits(reader),
    nodeSelector: reader.textMap('nodeSelector'),
    tolerations: reader
      .list('tolerations')
      .map((toleration, index) => parseToleration(reader, `tolerations[${index}]`, toleration)),
    volumes: reader
      .list('volumes')
      .map((volume, index) => parseVolume(reader, `volumes[${index}]`, volume)),
    env: reader.textMap('env', envNamePattern),
    ...(podSpec !== undefined ? { podSpec: podSpec as SpecInput } : {}),
  };
}

function parseLimits(reader: ProfileReader): Record<string, string | number> {
  const limits = reader.object('resources');
  for (const [name, value] of Object.entries(limits)) {
    const field = `resources.${name}`;
    if (name === 'cpu' || name === 'memory') {
      if ((typeof value !== 'string' || !value) && typeof value !== 'number') {
        reader.fail(field, 'a quantity such as "2", "500m" or "8Gi"', value);
      }
    } else if (name.includes('/')) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        reader.fail(field, 'a whole number of devices', value);
      }
    } else {
      reader.fail(field, 'cpu, memory or an extended resource such as nvidia.com/gpu', name);
    }
  }
  return limits as Record<string, string | number>;
}

function parseToleration(reader: ProfileReader, field: string, value: unknown): JsonObject {
  if (!isObject(value)) {
    reader.fail(field, 'an object with key, operator, value, effect', value);
  }
  for (const name of ['key', 'value'] as const) {
    if (value[name] !== undefined && typeof value[name] !== 'string') {
      reader.fail(`${field}.${name}`, 'a string', value[name]);
    }
  }
  if (value.operator !== undefined && !tolerationOperators.includes(value.operator as string)) {
    reader.fail(`${field}.operator`, '"Exists" or "Equal"', value.operator);
  }
  if (value.effect !== undefined && !taintEffects.includes(value.effect as string)) {
    reader.fail(`${field}.effect`, '"NoSchedule", "PreferNoSchedule" or "NoExecute"', value.effect);
  }
  const seconds = value.tolerationSeconds;
  if (seconds !== undefined && (typeof seconds !== 'number' || !Number.isInteger(seconds))) {
    reader.fail(`${field}.tolerationSeconds`, 'a whole number of seconds', seconds);
  }
  return { ...value };
}

function parseVolume(reader: ProfileReader, field: string, value: unknown): ProfileVolume {
  if (!isObject(value)) {
    reader.fail(field, 'an object with claimName and mountPath', value);
  }
  const volume: ProfileReader = new ProfileReader(value, `${reader.key}.${field}`);
  const claimName = volume.optionalText('claimName');
  if (!claimName) {
    volume.fail('claimName', 'the name of a PersistentVolumeClaim', value.claimName);
  }
  const mountPath = volume.optionalText('mountPath');
  if (!mountPath?.startsWith('/')) {
    volume.fail('mountPath', 'an absolute path in the pod', value.mountPath);
  }
  const name = volume.optionalText('name') ?? claimName.toLowerCase().replace(/\./g, '-');
  if (!dnsLabelPattern.test(name) || name.length > 63) {
    volume.fail('name', 'a volume name of lower-case letters, digits and "-"', name);
  }
  if (value.readOnly !== undefined && typeof value.readOnly !== 'boolean') {
    volume.fail('readOnly', 'true or false', value.readOnly);
  }
  return { name, claimName, mountPath, readOnly: value.readOnly === true };
}

/** What a pod is made of before a profile is laid over it (the settings' choices). */
export interface ProfileBase {
  /** The settings' Pod manifest for this pod, if any (the profile's own podSpec replaces it). */
  podSpec?: SpecInput;
  /** The code container's image when neither the profile nor the manifest names one. */
  image: string;
  /** The code container's limits from the settings (the profile's win, name by name). */
  limits?: Record<string, string | number>;
  /** The code container's working directory when the manifest names none. */
  workspacePath: string;
}

/**
 * The Pod manifest of `pod` under `profile`: its podSpec (or the settings' one) with the
 * profile's node selector, tolerations, volumes, and the code container's image, limits, env and
 * mounts laid over it. It is given to the pod builders as their `podSpec`, so their own merge
 * adds names, labels, command and the rest, as for any podSpec.
 */
export function profilePodSpec(
  profile: PodProfile,
  pod: ProfilePod,
  base: ProfileBase,
): JsonObject {
  const input = profile.podSpec ?? base.podSpec;
  const option = profile.podSpec === undefined ? 'podSpec' : `profile ${profile.name}: podSpec`;
  const manifest: JsonObject = input === undefined ? {} : loadSpec(input, 'Pod', option).spec;
  const spec: JsonObject = isObject(manifest.spec) ? { ...manifest.spec } : {};
  const containers = Array.isArray(spec.containers) ? [...(spec.containers as unknown[])] : [];
  const index = containers.findIndex((c) => isObject(c) && c.name === executorContainerName);
  const existing = index >= 0 ? (containers[index] as JsonObject) : { name: executorContainerName };
  const profileImage = pod === 'executor' ? profile.image : profile.jupyterImage;
  const limits = {
    ...(isObject(existing.resources) && isObject(existing.resources.limits)
      ? existing.resources.limits
      : base.limits),
    ...profile.limits,
  };
  const container: JsonObject = {
    ...existing,
    image: profileImage ?? existing.image ?? base.image,
    workingDir: existing.workingDir ?? base.workspacePath,
    ...(Object.keys(limits).length > 0
      ? { resources: { ...(isObject(existing.resources) ? existing.resources : {}), limits } }
      : {}),
    env: mergeByName(
      existing.env,
      Object.entries(profile.env).map(([name, value]) => ({ name, value })),
    ),
    volumeMounts: mergeByName(
      existing.volumeMounts,
      profile.volumes.map(({ name, mountPath, readOnly }) => ({
        name,
        mountPath,
        ...(readOnly ? { readOnly } : {}),
      })),
    ),
  };
  containers.splice(index >= 0 ? index : containers.length, index >= 0 ? 1 : 0, container);
  spec.containers = containers;
  if (Object.keys(profile.nodeSelector).length > 0) {
    spec.nodeSelector = {
      ...(isObject(spec.nodeSelector) ? spec.nodeSelector : {}),
      ...profile.nodeSelector,
    };
  }
  if (profile.tolerations.length > 0) {
    spec.tolerations = [
      ...(Array.isArray(spec.tolerations) ? (spec.tolerations as unknown[]) : []),
      ...profile.tolerations,
    ];
  }
  if (profile.volumes.length > 0) {
    spec.volumes = mergeByName(
      spec.volumes,
      profile.volumes.map(({ name, claimName, readOnly }) => ({
        name,
        persistentVolumeClaim: { claimName, ...(readOnly ? { readOnly } : {}) },
      })),
    );
  }
  return { ...manifest, kind: 'Pod', spec };
}

/** `entries` added to the manifest's list `current`, replacing any of the same name. */
function mergeByName(current: unknown, entries: JsonObject[]): JsonObject[] {
  const names = new Set(entries.map((entry) => entry.name));
  const kept = (Array.isArray(current) ? (current as unknown[]) : []).filter(
    (entry): entry is JsonObject => isObject(entry) && !names.has(entry.name),
  );
  return [...kept, ...entries];
}
