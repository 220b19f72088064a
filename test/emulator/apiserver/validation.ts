import { invalid, type FieldError } from '../apiErrors.ts';
import type { KubeObject } from '../store/objectStore.ts';
import type { ResourceType } from '../resources.ts';
import { canonicalJson, isObject } from '../jsonValues.ts';
import { validateClaimSpec, validateVolumeSpec } from './storageValidation.ts';

const dns1123LabelPattern = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123SubdomainPattern = `${dns1123LabelPattern}(\\.${dns1123LabelPattern})*`;
const dns1035LabelPattern = '[a-z]([-a-z0-9]*[a-z0-9])?';

const labelMessage = `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${dns1123LabelPattern}')`;
const subdomainMessage = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${dns1123SubdomainPattern}')`;
const dns1035Message = `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '${dns1035LabelPattern}')`;

export function dns1123LabelErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > 63) {
    errors.push('must be no more than 63 characters');
  }
  if (!new RegExp(`^${dns1123LabelPattern}$`).test(value)) {
    errors.push(labelMessage);
  }
  return errors;
}

export function dns1123SubdomainErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > 253) {
    errors.push('must be no more than 253 characters');
  }
  if (!new RegExp(`^${dns1123SubdomainPattern}$`).test(value)) {
    errors.push(subdomainMessage);
  }
  return errors;
}

function dns1035LabelErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > 63) {
    errors.push('must be no more than 63 characters');
  }
  if (!new RegExp(`^${dns1035LabelPattern}$`).test(value)) {
    errors.push(dns1035Message);
  }
  return errors;
}

/** The name rule each resource uses in kube-apiserver. */
function nameErrors(type: ResourceType, name: string): string[] {
  switch (type.resource) {
    case 'namespaces':
      return dns1123LabelErrors(name);
    case 'services':
      return dns1035LabelErrors(name);
    default:
      return dns1123SubdomainErrors(name);
  }
}

const quote = (value: unknown) => JSON.stringify(value);

/** Validates an object for create or update and throws 422 Invalid listing every problem. */
export function validateObject(type: ResourceType, object: KubeObject): void {
  const errors: FieldError[] = [];
  const name = object.metadata.name ?? '';
  if (!name) {
    errors.push({
      field: 'metadata.name',
      type: 'FieldValueRequired',
      detail: 'Required value: name or generateName is required',
    });
  } else {
    for (const message of nameErrors(type, name)) {
      errors.push({
        field: 'metadata.name',
        type: 'FieldValueInvalid',
        detail: `Invalid value: ${quote(name)}: ${message}`,
      });
    }
  }
  validateLabels(object.metadata.labels, 'metadata.labels', errors);
  validateAnnotations(object.metadata.annotations, errors);
  if (type.kind === 'Pod') {
    validatePodSpec(object.spec, errors);
  }
  if (type.kind === 'Service') {
    validateServiceSpec(object.spec, errors);
  }
  if (type.kind === 'PersistentVolumeClaim') {
    validateClaimSpec(object.spec, errors);
  }
  if (type.kind === 'PersistentVolume') {
    validateVolumeSpec(object.spec, errors);
  }
  if (errors.length > 0) {
    throw invalid(type.kind, name, errors, type.group);
  }
}

function validateLabels(labels: unknown, field: string, errors: FieldError[]): void {
  if (labels === undefined || labels === null) {
    return;
  }
  if (typeof labels !== 'object' || Array.isArray(labels)) {
    errors.push({
      field,
      type: 'FieldValueInvalid',
      detail: `Invalid value: ${quote(labels)}: must be a map of strings`,
    });
    return;
  }
  for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
    if (
      typeof value !== 'string' ||
      !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value) ||
      value.length > 63
    ) {
      errors.push({
        field,
        type: 'FieldValueInvalid',
        detail: `Invalid value: ${quote(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
    const nameOfKey = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
    if (!/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/.test(nameOfKey) || nameOfKey.length > 63) {
      errors.push({
        field,
        type: 'FieldValueInvalid',
        detail: `Invalid value: ${quote(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
  }
}

/** All annotations of an object together, keys and values: kube-apiserver's limit. */
const annotationsMaxBytes = 256 * 1024;

function validateAnnotations(annotations: unknown, errors: FieldError[]): void {
  if (!isObject(annotations)) {
    return;
  }
  let bytes = 0;
  for (const [key, value] of Object.entries(annotations)) {
    bytes += Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  }
  if (bytes > annotationsMaxBytes) {
    errors.push({
      field: 'metadata.annotations',
      type: 'FieldValueTooLong',
      detail: `Too long: must have at most ${annotationsMaxBytes} bytes`,
    });
  }
}

function validatePodSpec(spec: unknown, errors: FieldError[]): void {
  if (!isObject(spec)) {
    errors.push({ field: 'spec', type: 'FieldValueRequired', detail: 'Required value' });
    return;
  }
  const volumeNames = new Set<string>();
  if (spec.volumes !== undefined) {
    if (!Array.isArray(spec.volumes)) {
      errors.push({
        field: 'spec.volumes',
        type: 'FieldValueInvalid',
        detail: `Invalid value: ${quote(spec.volumes)}: must be a list`,
      });
    } else {
      spec.volumes.forEach((volume: unknown, i) => {
        const name = isObject(volume) ? volume.name : undefined;
        if (typeof name !== 'string' || !name) {
          errors.push({
            field: `spec.volumes[${i}].name`,
            type: 'FieldValueRequired',
            detail: 'Required value',
          });
        } else if (volumeNames.has(name)) {
          errors.push({
            field: `spec.volumes[${i}].name`,
            type: 'FieldValueDuplicate',
            detail: `Duplicate value: ${quote(name)}`,
          });
        } else {
          volumeNames.add(name);
        }
      });
    }
  }
  validateContainers(spec.containers, volumeNames, errors);
  const restartPolicy = spec.restartPolicy;
  if (
    restartPolicy !== undefined &&
    !['Always', 'OnFailure', 'Never'].includes(restartPolicy as string)
  ) {
    errors.push({
      field: 'spec.restartPolicy',
      type: 'FieldValueNotSupported',
      detail: `Unsupported value: ${quote(restartPolicy)}: supported values: "Always", "OnFailure", "Never"`,
    });
  }
  const deadline = spec.activeDeadlineSeconds;
  if (
    deadline !== undefined &&
    (typeof deadline !== 'number' || !Number.isInteger(deadline) || deadline < 1)
  ) {
    errors.push({
      field: 'spec.activeDeadlineSeconds',
      type: 'FieldValueInvalid',
      detail: `Invalid value: ${quote(deadline)}: must be between 1 and 2147483647, inclusive`,
    });
  }
}

function validateContainers(
  containers: unknown,
  volumeNames: Set<string>,
  errors: FieldError[],
): void {
  if (containers === undefined || (Array.isArray(containers) && containers.length === 0)) {
    errors.push({ field: 'spec.containers', type: 'FieldValueRequired', detail: 'Required value' });
    return;
  }
  if (!Array.isArray(containers)) {
    errors.push({
      field: 'spec.containers',
      type: 'FieldValueInvalid',
      detail: `Invalid value: ${quote(containers)}: must be a list`,
    });
    return;
  }
  const names = new Set<string>();
  containers.forEach((container: unknown, i) => {
    const field = `spec.containers[${i}]`;
    if (!isObject(container)) {
      errors.push({
        field,
        type: 'FieldValueInvalid',
        detail: `Invalid value: ${quote(container)}: must be an object`,
      });
      return;
    }
    const name = container.name;
    if (typeof name !== 'string' || !name) {
      errors.push({ field: `${field}.name`, type: 'FieldValueRequired', detail: 'Required value' });
    } else {
      for (const message of dns1123LabelErrors(name)) {
        errors.push({
          field: `${field}.name`,
          type: 'FieldValueInvalid',
          detail: `Invalid value: ${quote(name)}: ${message}`,
        });
      }
      if (names.has(name)) {
        errors.push({
          field: `${field}.name`,
          type: 'FieldValueDuplicate',
          detail: `Duplicate value: ${quote(name)}`,
        });
      }
      names.add(name);
    }
    if (typeof container.image !== 'string' || !container.image.trim()) {
      errors.push({
        field: `${field}.image`,
        type: 'FieldValueRequired',
        detail: 'Required value',
      });
    }
    for (const listField of ['command', 'args'] as const) {
      const list = container[listField];
      if (
        list !== undefined &&
        (!Array.isArray(list) || list.some((item) => typeof item !== 'string'))
      ) {
        errors.push({
          field: `${field}.${listField}`,
          type: 'FieldValueInvalid',
          detail: `Invalid value: ${quote(list)}: must be a list of strings`,
        });
      }
    }
    const workingDir = container.workingDir;
    if (
      workingDir !== undefined &&
      (typeof workingDir !== 'string' || (workingDir !== '' && !workingDir.startsWith('/')))
    ) {
      errors.push({
        field: `${field}.workingDir`,
        type: 'FieldValueInvalid',
        detail: `Invalid value: ${quote(workingDir)}: must be an absolute path`,
      });
    }
    const mounts = container.volumeMounts;
    if (Array.isArray(mounts)) {
      mounts.forEach((mount: unknown, j) => {
        const mountField = `${field}.volumeMounts[${j}]`;
        const mountName = isObject(mount) ? mount.name : undefined;
        const mountPath = isObject(mount) ? mount.mountPath : undefined;
        if (typeof mountName !== 'string' || !volumeNames.has(mountName)) {
          errors.push({
            field: `${mountField}.name`,
            type: 'FieldValueNotSupported',
            detail: `Not found: ${quote(mountName)}`,
          });
        }
        if (typeof mountPath !== 'string' || !mountPath) {
          errors.push({
            field: `${mountField}.mountPath`,
            type: 'FieldValueRequired',
            detail: 'Required value',
          });
        }
      });
    }
  });
}

function validateServiceSpec(spec: unknown, errors: FieldError[]): void {
  if (!isObject(spec)) {
    errors.push({ field: 'spec', type: 'FieldValueRequired', detail: 'Required value' });
    return;
  }
  const ports: unknown[] = Array.isArray(spec.ports) ? spec.ports : [];
  // An ExternalName service is a DNS alias: it needs the name, not ports.
  if (spec.type === 'ExternalName') {
    if (typeof spec.externalName !== 'string' || !spec.externalName) {
      errors.push({
        field: 'spec.externalName',
        type: 'FieldValueRequired',
        detail: 'Required value',
      });
    }
  } else if (ports.length === 0) {
    errors.push({ field: 'spec.ports', type: 'FieldValueRequired', detail: 'Required value' });
    return;
  }
  ports.forEach((port: unknown, i) => {
    const value = isObject(port) ? port.port : undefined;
    if (typeof value !== 'number' || value < 1 || value > 65535) {
      errors.push({
        field: `spec.ports[${i}].port`,
        type: 'FieldValueInvalid',
        detail: `Invalid value: ${quote(value)}: must be between 1 and 65535, inclusive`,
      });
    }
  });
}

/** Pod updates may only change images, activeDeadlineSeconds and tolerations, as in kube-apiserver. */
export function checkPodUpdate(current: KubeObject, next: KubeObject): void {
  const strip = (spec: Record<string, unknown>) => {
    const copy = structuredClone(spec);
    delete copy.activeDeadlineSeconds;
    delete copy.tolerations;
    for (const container of [
      ...((copy.containers as Record<string, unknown>[] | undefined) ?? []),
      ...((copy.initContainers as Record<string, unknown>[] | undefined) ?? []),
    ]) {
      delete container.image;
    }
    return canonicalJson(copy);
  };
  if (
    strip(current.spec as Record<string, unknown>) !== strip(next.spec as Record<string, unknown>)
  ) {
    throw invalid('Pod', current.metadata.name ?? '', [
      {
        field: 'spec',
        type: 'FieldValueForbidden',
        detail:
          'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      },
    ]);
  }
}
