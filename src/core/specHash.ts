import { createHash } from 'node:crypto';
import {
  clientLabel,
  instanceLabel,
  jupyterServerLabel,
  notebookKernelsAnnotation,
  sessionLabel,
} from './podLabels.ts';
import type { JsonObject } from './specLoader.ts';

/**
 * On every pod Pod Runner creates: a hash of the pod's spec as built from its options, so a
 * client can tell whether the settings it has now would make the same pod (a kept pod made with
 * another image or other resources must not be reused).
 */
export const specHashAnnotation = 'pod-runner.dev/spec-hash';

interface PodLike {
  metadata?: { annotations?: Record<string, string> } | JsonObject;
  spec?: unknown;
}

/**
 * Labels and annotations that name one pod, window or client rather than come from settings:
 * they differ between two pods made from the same settings.
 */
const identityKeys = new Set([
  instanceLabel,
  sessionLabel,
  clientLabel,
  jupyterServerLabel,
  specHashAnnotation,
  notebookKernelsAnnotation,
]);

const fromSettings = (map: unknown): Record<string, unknown> =>
  map !== null && typeof map === 'object'
    ? Object.fromEntries(Object.entries(map).filter(([key]) => !identityKeys.has(key)))
    : {};

/**
 * A SHA-256 prefix of the spec and of the labels and annotations the settings gave, keys sorted:
 * the order settings were written in is moot.
 */
function hashOfSettings(pod: JsonObject): string {
  const metadata = (pod.metadata ?? {}) as JsonObject;
  const made = {
    spec: pod.spec,
    labels: fromSettings(metadata.labels),
    annotations: fromSettings(metadata.annotations),
  };
  return createHash('sha256').update(canonicalJson(made)).digest('hex').slice(0, 32);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Stamps a pod manifest about to be created with the hash of its spec. */
export function stampSpecHash(pod: JsonObject): void {
  const metadata = pod.metadata as JsonObject;
  const annotations = metadata.annotations;
  metadata.annotations = {
    ...(annotations !== null && typeof annotations === 'object' ? annotations : {}),
    [specHashAnnotation]: hashOfSettings(pod),
  };
}

/** The spec hash a pod (a manifest, or one read from the cluster) carries, if any. */
export function specHashOf(pod: PodLike): string | undefined {
  const annotations = pod.metadata?.annotations as Record<string, string> | undefined;
  return annotations?.[specHashAnnotation];
}
