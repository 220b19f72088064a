import { badRequest } from '../apiErrors.ts';

type Json = unknown;

/** RFC 7386 JSON merge patch; also used for strategic-merge patches, with lists of named items merged by name. */
export function mergePatch(target: Json, patch: Json, strategic: boolean): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    if (
      strategic &&
      Array.isArray(patch) &&
      Array.isArray(target) &&
      isNamedList(patch) &&
      isNamedList(target)
    ) {
      const merged = [...(target as Record<string, unknown>[])];
      for (const item of patch as Record<string, unknown>[]) {
        const index = merged.findIndex((existing) => existing.name === item.name);
        if (index >= 0) {
          merged[index] = mergePatch(merged[index], item, true) as Record<string, unknown>;
        } else {
          merged.push(item);
        }
      }
      return merged;
    }
    return patch;
  }
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (key === '$patch' || key.startsWith('$setElementOrder') || key.startsWith('$retainKeys')) {
      continue;
    }
    if (value === null) {
      delete result[key];
    } else {
      result[key] = mergePatch(result[key], value, strategic);
    }
  }
  return result;
}

function isNamedList(list: unknown[]): boolean {
  return list.every(
    (item) =>
      item !== null &&
      typeof item === 'object' &&
      typeof (item as Record<string, unknown>).name === 'string',
  );
}

interface Operation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) {
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  }
  let document = structuredClone(target);
  for (const operation of operations as Operation[]) {
    const path = parsePointer(operation.path);
    switch (operation.op) {
      case 'add':
        document = setAt(document, path, operation.value, 'add');
        break;
      case 'replace':
        getAt(document, path);
        document = setAt(document, path, operation.value, 'replace');
        break;
      case 'remove':
        getAt(document, path);
        document = removeAt(document, path);
        break;
      case 'test':
        if (JSON.stringify(getAt(document, path)) !== JSON.stringify(operation.value)) {
          throw new PatchTestFailed(operation.path);
        }
        break;
      case 'copy':
      case 'move': {
        const from = parsePointer(operation.from ?? '');
        const value = structuredClone(getAt(document, from));
        if (operation.op === 'move') {
          document = removeAt(document, from);
        }
        document = setAt(document, path, value, 'add');
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${operation.op}`);
    }
  }
  return document;
}

export class PatchTestFailed extends Error {
  constructor(path: string) {
    super(`testing value ${path} failed: test failed`);
  }
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') {
    return [];
  }
  if (!pointer.startsWith('/')) {
    throw badRequest(
      `the server rejected our request due to an error in our request: invalid path ${pointer}`,
    );
  }
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(document: Json, path: string[]): Json {
  let current = document;
  for (const key of path) {
    if (
      current === null ||
      typeof current !== 'object' ||
      !(key in (current as Record<string, unknown>))
    ) {
      throw badRequest(
        `the server rejected our request due to an error in our request: doc is missing path: "/${path.join('/')}"`,
      );
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function setAt(document: Json, path: string[], value: unknown, mode: 'add' | 'replace'): Json {
  if (path.length === 0) {
    return value;
  }
  const parent = getAt(document, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (mode === 'add') {
      parent.splice(index, 0, value);
    } else {
      parent[index] = value;
    }
  } else if (parent !== null && typeof parent === 'object') {
    (parent as Record<string, unknown>)[key] = value;
  } else {
    throw badRequest(
      `the server rejected our request due to an error in our request: doc is missing path: "/${path.join('/')}"`,
    );
  }
  return document;
}

function removeAt(document: Json, path: string[]): Json {
  const parent = getAt(document, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    parent.splice(Number(key), 1);
  } else {
    delete (parent as Record<string, unknown>)[key];
  }
  return document;
}
