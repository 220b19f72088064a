import { ApiError, invalid, type FieldError } from '../apiErrors.ts';
import { canonicalJson, isObject } from '../jsonValues.ts';
import type { KubeObject } from '../store/objectStore.ts';

/** kube-apiserver's rules for claims and volumes: required fields, an immutable claim spec. */

export function validateClaimSpec(spec: unknown, errors: FieldError[]): void {
  const accessModes = isObject(spec) && Array.isArray(spec.accessModes) ? spec.accessModes : [];
  if (accessModes.length === 0) {
    errors.push({
      field: 'spec.accessModes',
      type: 'FieldValueRequired',
      detail: 'Required value: at least 1 access mode is required',
    });
  }
  const resources = isObject(spec) && isObject(spec.resources) ? spec.resources : {};
  const requests = isObject(resources.requests) ? resources.requests : {};
  if (requests.storage === undefined) {
    errors.push({
      field: 'spec.resources[storage]',
      type: 'FieldValueRequired',
      detail: 'Required value',
    });
  }
}

export function validateVolumeSpec(spec: unknown, errors: FieldError[]): void {
  const fields = isObject(spec) ? spec : {};
  if (!Array.isArray(fields.accessModes) || fields.accessModes.length === 0) {
    errors.push({
      field: 'spec.accessModes',
      type: 'FieldValueRequired',
      detail: 'Required value: must specify at least 1 access mode',
    });
  }
  if (!isObject(fields.capacity) || fields.capacity.storage === undefined) {
    errors.push({ field: 'spec.capacity', type: 'FieldValueRequired', detail: 'Required value' });
  }
  const sources = ['hostPath', 'local', 'nfs', 'csi'].filter((source) => fields[source]);
  if (sources.length === 0) {
    errors.push({
      field: 'spec',
      type: 'FieldValueRequired',
      detail: 'Required value: must specify a volume type',
    });
  }
}

/**
 * A claim's spec is immutable, as in kube-apiserver: the binding may set its volume once, and a
 * bound claim may only grow its request where its class allows expansion (none here does unless
 * it says `allowVolumeExpansion: true`).
 */
export function checkClaimUpdate(
  current: KubeObject,
  next: KubeObject,
  allowsExpansion: (className: unknown) => boolean,
): void {
  const currentSpec = (current.spec ?? {}) as Record<string, unknown>;
  const bound = (current.status as Record<string, unknown> | undefined)?.phase === 'Bound';
  const binding = !currentSpec.volumeName;
  const comparable = (spec: unknown) => {
    const copy = structuredClone((spec ?? {}) as Record<string, unknown>);
    copy.volumeMode ??= 'Filesystem';
    if (bound) {
      delete copy.volumeAttributesClassName;
      delete (copy.resources as Record<string, unknown> | undefined)?.requests;
    }
    if (binding) {
      delete copy.volumeName;
    }
    return canonicalJson(copy);
  };
  const name = current.metadata.name ?? '';
  if (comparable(current.spec) !== comparable(next.spec)) {
    throw invalid('PersistentVolumeClaim', name, [
      {
        field: 'spec',
        type: 'FieldValueForbidden',
        detail:
          'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      },
    ]);
  }
  const requests = (spec: unknown) =>
    canonicalJson(
      (
        (spec as Record<string, unknown> | undefined)?.resources as
          Record<string, unknown> | undefined
      )?.requests,
    );
  if (
    bound &&
    requests(current.spec) !== requests(next.spec) &&
    !allowsExpansion(currentSpec.storageClassName)
  ) {
    throw new ApiError(
      403,
      'Forbidden',
      `persistentvolumeclaims "${name}" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize`,
      { name, kind: 'persistentvolumeclaims' },
    );
  }
}
