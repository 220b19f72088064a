import { invalid, type FieldError } from '../apiErrors.ts';
import { isObject } from '../jsonValues.ts';
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

/** A claim's spec is immutable, as in kube-apiserver (a bound claim may change its requests). */
export function checkClaimUpdate(current: KubeObject, next: KubeObject): void {
  const bound = (current.status as Record<string, unknown> | undefined)?.phase === 'Bound';
  const comparable = (spec: unknown, binding: boolean) => {
    const copy = structuredClone((spec ?? {}) as Record<string, unknown>);
    copy.volumeMode ??= 'Filesystem';
    if (bound) {
      delete copy.volumeAttributesClassName;
      delete (copy.resources as Record<string, unknown> | undefined)?.requests;
    }
    // The volume a claim is bound to may be set once (that is the binding).
    if (binding) {
      delete copy.volumeName;
    }
    return JSON.stringify(copy);
  };
  const binding = !(current.spec as Record<string, unknown> | undefined)?.volumeName;
  if (comparable(current.spec, binding) !== comparable(next.spec, binding)) {
    throw invalid('PersistentVolumeClaim', current.metadata.name ?? '', [
      {
        field: 'spec',
        type: 'FieldValueForbidden',
        detail:
          'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      },
    ]);
  }
}
