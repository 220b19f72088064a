import { badRequest, notFound } from '../apiErrors.ts';
import { findResourceType, resourceTypes, type ResourceType } from '../resources.ts';

export interface ResourceRequest {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  verb: string;
}

const namespacedResources = new Set(
  resourceTypes.filter((t) => t.namespaced).map((t) => t.resource),
);

function isTrue(value: string | null): boolean {
  return value !== null && ['true', '1', 'True', 'TRUE'].includes(value);
}

export function queryFlag(query: URLSearchParams, name: string): boolean {
  return isTrue(query.get(name));
}

/**
 * Maps `/api/v1/...` and `/apis/{group}/{version}/...` paths (with the legacy `/watch/` prefix)
 * and the HTTP method to a resource request with its RBAC verb; undefined for other paths.
 */
export function routeResourceRequest(
  method: string,
  path: string,
  query: URLSearchParams,
): ResourceRequest | undefined {
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else {
    return undefined;
  }
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && namespacedResources.has(rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  const type = resource ? findResourceType(group, version, resource) : undefined;
  if (!type || extra.length > 0) {
    throw notFound(resource ?? '', name ?? '');
  }
  if (subresource && !type.subresources.includes(subresource)) {
    throw notFound(`${type.resource}/${subresource}`, name ?? '');
  }
  if (type.namespaced && namespace === undefined && name !== undefined) {
    throw notFound(type.resource, name);
  }
  const watch = watchPath || queryFlag(query, 'watch');
  const verb = verbOf(method, name !== undefined, watch);
  if (!verb) {
    throw badRequest(`the server does not allow this method on the requested resource`);
  }
  return { type, namespace, name, subresource, verb };
}

function verbOf(method: string, named: boolean, watch: boolean): string | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return named ? 'update' : undefined;
    case 'PATCH':
      return named ? 'patch' : undefined;
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}
