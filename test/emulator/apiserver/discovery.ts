import { createHash } from 'node:crypto';
import { ApiError } from '../apiErrors.ts';
import { resourceTypes, type ResourceType } from '../resources.ts';

/** Discovery and OpenAPI documents: what kubectl reads before it acts. */

export const serverVersion = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4',
  gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
  gitTreeState: 'clean',
  buildDate: '2025-04-22T16:02:27Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const groups = [...new Set(resourceTypes.map((t) => t.group).filter(Boolean))];

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDocument(group: string) {
  const version = { groupVersion: `${group}/v1`, version: 'v1' };
  return { name: group, versions: [version], preferredVersion: version };
}

export function apiGroupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupDocument) };
}

export function apiGroup(group: string) {
  return groups.includes(group)
    ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group) }
    : undefined;
}

export function apiResourceList(group: string, version: string) {
  const types = resourceTypes.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) {
    return undefined;
  }
  const resources = types.flatMap((type) => [
    {
      name: type.resource,
      singularName: type.singular,
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: type.verbs,
      ...(type.shortNames.length ? { shortNames: type.shortNames } : {}),
      storageVersionHash: createHash('sha256').update(type.kind).digest('base64').slice(0, 11),
    },
    ...type.subresources.map((sub) => ({
      name: `${type.resource}/${sub}`,
      singularName: '',
      namespaced: type.namespaced,
      kind:
        sub === 'exec'
          ? 'PodExecOptions'
          : sub === 'portforward'
            ? 'PodPortForwardOptions'
            : sub === 'log'
              ? 'Pod'
              : type.kind,
      verbs:
        sub === 'exec' || sub === 'portforward'
          ? ['create', 'get']
          : sub === 'log'
            ? ['get']
            : ['get', 'patch', 'update'],
    })),
  ]);
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

/** OpenAPI definition names for the kinds, as in kube-apiserver's documents. */
function definitionName(type: ResourceType): string {
  const group = type.group ? type.group.replace('.k8s.io', '') : 'core';
  return `io.k8s.api.${group}.${type.version}.${type.kind}`;
}

const objectMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function gvk(type: ResourceType) {
  return [{ group: type.group, version: type.version, kind: type.kind }];
}

/**
 * A schema per kind: typed top level and metadata, open below (`x-kubernetes-preserve-unknown-fields`),
 * enough for kubectl's client-side validation and for it to find which operations take
 * `fieldValidation`.
 */
function schemas(types: readonly ResourceType[], ref: (name: string) => unknown) {
  const result: Record<string, unknown> = {
    [objectMeta]: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        generateName: { type: 'string' },
        namespace: { type: 'string' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
        uid: { type: 'string' },
        resourceVersion: { type: 'string' },
        creationTimestamp: { type: 'string', format: 'date-time' },
        deletionTimestamp: { type: 'string', format: 'date-time' },
        deletionGracePeriodSeconds: { type: 'integer', format: 'int64' },
        finalizers: { type: 'array', items: { type: 'string' } },
        ownerReferences: {
          type: 'array',
          items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        },
        managedFields: {
          type: 'array',
          items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        },
        generation: { type: 'integer', format: 'int64' },
      },
    },
  };
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  for (const type of types) {
    const properties: Record<string, unknown> = {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: ref(objectMeta),
    };
    for (const field of ['spec', 'status', 'involvedObject', 'source', 'series', 'related']) {
      properties[field] = open;
    }
    for (const field of ['data', 'stringData', 'binaryData']) {
      properties[field] = { type: 'object', additionalProperties: { type: 'string' } };
    }
    for (const field of [
      'type',
      'reason',
      'message',
      'action',
      'reportingComponent',
      'reportingInstance',
      'firstTimestamp',
      'lastTimestamp',
      'eventTime',
    ]) {
      properties[field] = { type: 'string' };
    }
    properties.count = { type: 'integer', format: 'int32' };
    properties.immutable = { type: 'boolean' };
    result[definitionName(type)] = {
      type: 'object',
      properties,
      'x-kubernetes-group-version-kind': gvk(type),
    };
  }
  return result;
}

function queryParameter(name: string, type = 'string') {
  return { name, in: 'query', schema: { type, uniqueItems: true } };
}

function paths(types: readonly ResourceType[], ref: (name: string) => unknown) {
  const result: Record<string, unknown> = {};
  for (const type of types) {
    const prefix = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    const collection = type.namespaced
      ? `${prefix}/namespaces/{namespace}/${type.resource}`
      : `${prefix}/${type.resource}`;
    const body = {
      content: { 'application/json': { schema: ref(definitionName(type)) } },
      required: true,
    };
    const response = {
      '200': { content: { 'application/json': { schema: ref(definitionName(type)) } } },
    };
    const writeParams = ['dryRun', 'fieldManager', 'fieldValidation', 'pretty'].map((n) =>
      queryParameter(n),
    );
    const operation = (action: string, extra: Record<string, unknown> = {}) => ({
      operationId: `${action}${type.kind}`,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk(type)[0],
      responses: response,
      ...extra,
    });
    const pathParams = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
    if (type.namespaced) {
      pathParams.push({
        name: 'namespace',
        in: 'path',
        required: true,
        schema: { type: 'string' },
      });
    }
    result[collection] = {
      ...(type.verbs.includes('list')
        ? {
            get: operation('list', {
              parameters: ['labelSelector', 'fieldSelector', 'watch', 'resourceVersion'].map((n) =>
                queryParameter(n),
              ),
            }),
          }
        : {}),
      ...(type.verbs.includes('create')
        ? { post: operation('post', { requestBody: body, parameters: writeParams }) }
        : {}),
      ...(type.namespaced ? { parameters: [pathParams[1]] } : {}),
    };
    if (type.verbs.includes('get')) {
      result[`${collection}/{name}`] = {
        get: operation('get'),
        put: operation('put', { requestBody: body, parameters: writeParams }),
        patch: operation('patch', {
          requestBody: {
            content: {
              'application/merge-patch+json': { schema: { type: 'object' } },
              'application/strategic-merge-patch+json': { schema: { type: 'object' } },
              'application/json-patch+json': { schema: { type: 'object' } },
              'application/apply-patch+yaml': { schema: { type: 'object' } },
            },
          },
          parameters: [...writeParams, queryParameter('force', 'boolean')],
        }),
        delete: operation('delete', {
          parameters: ['dryRun', 'gracePeriodSeconds', 'propagationPolicy'].map((n) =>
            queryParameter(n),
          ),
        }),
        parameters: pathParams,
      };
    }
  }
  return result;
}

function groupVersionKey(type: ResourceType): string {
  return type.group ? `apis/${type.group}/${type.version}` : `api/${type.version}`;
}

function documentFor(key: string) {
  const types = resourceTypes.filter((t) => groupVersionKey(t) === key);
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: serverVersion.gitVersion },
    paths: paths(types, ref),
    components: { schemas: schemas(types, ref) },
  };
}

const v3Documents = new Map<string, { body: string; hash: string }>();
for (const key of new Set(resourceTypes.map(groupVersionKey))) {
  const body = JSON.stringify(documentFor(key));
  v3Documents.set(key, {
    body,
    hash: createHash('sha512').update(body).digest('hex').slice(0, 64).toUpperCase(),
  });
}

export function openApiV3Index() {
  const entries: Record<string, { serverRelativeURL: string }> = {};
  for (const [key, document] of v3Documents) {
    entries[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${document.hash}` };
  }
  return { paths: entries };
}

export function openApiV3Document(key: string): string | undefined {
  return v3Documents.get(key)?.body;
}

let v2Document: string | undefined;

/** Swagger 2.0 with the same definitions (kubectl falls back to it, and `explain` reads it). */
export function openApiV2(): string {
  const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
  v2Document ??= JSON.stringify({
    swagger: '2.0',
    info: { title: 'Kubernetes', version: serverVersion.gitVersion },
    paths: {},
    definitions: schemas(resourceTypes, ref),
  });
  return v2Document;
}

/** Discovery, version, health and OpenAPI documents; undefined for other paths. */
export function discoveryDocument(
  method: string | undefined,
  url: URL,
  serverAddress: string,
): unknown {
  const path = url.pathname.replace(/\/$/, '') || '/';
  if (method !== 'GET' && method !== 'HEAD') {
    return undefined;
  }
  const segments = path.split('/').filter(Boolean);
  switch (path) {
    case '/version':
      return serverVersion;
    case '/healthz':
    case '/livez':
    case '/readyz':
      return 'ok';
    case '/api':
      return apiVersions(serverAddress);
    case '/apis':
      return apiGroupList();
    case '/openapi/v2':
      return openApiV2();
    case '/openapi/v3':
      return openApiV3Index();
    default:
      break;
  }
  if (segments[0] === 'openapi' && segments[1] === 'v3') {
    const document = openApiV3Document(segments.slice(2).join('/'));
    if (document === undefined) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    return document;
  }
  if (segments[0] === 'api' && segments.length === 2) {
    return apiResourceList('', segments[1]!);
  }
  if (segments[0] === 'apis' && segments.length === 2) {
    return apiGroup(segments[1]!);
  }
  if (segments[0] === 'apis' && segments.length === 3) {
    return apiResourceList(segments[1]!, segments[2]!);
  }
  return undefined;
}
