import { randomBytes, randomUUID } from 'node:crypto';
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  invalid,
  notFound,
  successStatus,
} from '../apiErrors.ts';
import type { Authorizer, EmulatorUser } from './authorization.ts';
import { answerAccessReview } from './accessReviews.ts';
import { applyDefaults, defaultStorageClassName } from './defaults.ts';
import {
  deleteNamespace,
  deletePod,
  checkFinalizers,
  gracePeriod,
  markForFinalizers,
  removeObject,
} from './gracefulDeletion.ts';
import { timestamp, type KubeObject, type ObjectStore } from '../store/objectStore.ts';
import { jsonPatch, mergePatch, PatchTestFailed } from './patches.ts';
import type { ResourceRequest } from './requestRouting.ts';
import { apiVersionOf, resourceTypeOfKind, type ResourceType } from '../resources.ts';
import { fieldValue, parseFieldSelector, parseLabelSelector } from '../store/selectors.ts';
import { checkPodUpdate, validateObject } from './validation.ts';
import { checkClaimUpdate } from './storageValidation.ts';

type Json = Record<string, unknown>;

const namespaces = resourceTypeOfKind('Namespace');
const services = resourceTypeOfKind('Service');
const firstNodePort = 30000;

export interface Reply {
  code: number;
  body: unknown;
}

export interface ObjectFilter {
  namespace: string | undefined;
  matches: (object: KubeObject) => boolean;
}

/** The apiserver's REST semantics over the object store: CRUD, patch, graceful delete, reviews. */
export class ResourceApi {
  private nextServiceIp = 10;

  constructor(
    private readonly store: ObjectStore,
    private readonly authorizer: Authorizer,
  ) {}

  filter(request: ResourceRequest, query: URLSearchParams): ObjectFilter {
    const labels = parseLabelSelector(query.get('labelSelector'));
    const fields = parseFieldSelector(query.get('fieldSelector'), [
      'metadata.name',
      'metadata.namespace',
      ...request.type.fieldSelectors,
    ]);
    const namespace = request.type.namespaced ? request.namespace : undefined;
    return {
      namespace,
      matches: (object) =>
        (namespace === undefined || object.metadata.namespace === namespace) &&
        labels((key) => object.metadata.labels?.[key]) &&
        fields((key) => fieldValue(object, key)),
    };
  }

  list(request: ResourceRequest, query: URLSearchParams): Reply {
    const filter = this.filter(request, query);
    const items = this.store
      .list(request.type, filter.namespace)
      .filter(filter.matches)
      .map(withoutTypeMeta);
    return {
      code: 200,
      body: {
        kind: `${request.type.kind}List`,
        apiVersion: apiVersionOf(request.type),
        metadata: { resourceVersion: this.store.currentResourceVersion },
        items,
      },
    };
  }

  get(request: ResourceRequest): Reply {
    return {
      code: 200,
      body: this.store.get(request.type, request.namespace ?? '', request.name!),
    };
  }

  create(
    request: ResourceRequest,
    body: unknown,
    query: URLSearchParams,
    user: EmulatorUser,
  ): Reply {
    const { type } = request;
    if (type.group === 'authorization.k8s.io') {
      return { code: 201, body: answerAccessReview(type, body as Json, user, this.authorizer) };
    }
    const object = this.decode(type, body);
    if (type.namespaced) {
      const namespace = request.namespace ?? '';
      if (object.metadata.namespace !== undefined && object.metadata.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      object.metadata.namespace = namespace;
      const owner = this.store.find(namespaces, '', namespace);
      if (!owner) {
        throw notFound('namespaces', namespace);
      }
      if (owner.metadata.deletionTimestamp) {
        throw new ApiError(
          403,
          'Forbidden',
          `${type.resource} "${object.metadata.name ?? ''}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
          {
            name: object.metadata.name ?? '',
            kind: type.resource,
            causes: [
              {
                reason: 'NamespaceTerminating',
                message: `namespace ${namespace} is being terminated`,
                field: 'metadata.namespace',
              },
            ],
          },
        );
      }
    } else {
      delete object.metadata.namespace;
    }
    if (!object.metadata.name && object.metadata.generateName) {
      object.metadata.name = `${object.metadata.generateName}${randomSuffix()}`;
    }
    for (const field of [
      'uid',
      'resourceVersion',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
    ]) {
      delete object.metadata[field];
    }
    if (object.metadata.resourceVersion) {
      throw badRequest('resourceVersion should not be set on objects to be created');
    }
    validateObject(type, object);
    if (type.kind === 'Secret') {
      foldStringData(object);
    }
    applyDefaults(object, {
      serviceIp: () => `10.96.0.${this.nextServiceIp++ % 250}`,
      nodePort: this.nodePortAllocator(object),
      defaultStorageClass: () => defaultStorageClassName(this.store),
    });
    if (query.get('dryRun') === 'All') {
      if (this.store.find(type, object.metadata.namespace ?? '', object.metadata.name ?? '')) {
        throw alreadyExists(type.resource, object.metadata.name ?? '', type.group);
      }
      return {
        code: 201,
        body: {
          ...object,
          apiVersion: apiVersionOf(type),
          kind: type.kind,
          metadata: { ...object.metadata, uid: randomUUID(), creationTimestamp: timestamp() },
        },
      };
    }
    return { code: 201, body: this.store.create(type, object) };
  }

  update(request: ResourceRequest, body: unknown, query: URLSearchParams): Reply {
    const current = this.store.get(request.type, request.namespace ?? '', request.name!);
    const next = this.decode(request.type, body);
    if (next.metadata.name !== request.name) {
      throw badRequest(
        `the name of the object (${next.metadata.name ?? ''}) does not match the name on the URL (${request.name ?? ''})`,
      );
    }
    if (
      next.metadata.resourceVersion &&
      next.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      throw conflict(request.type.resource, request.name!);
    }
    return this.commitUpdate(request, current, next, query);
  }

  patch(
    request: ResourceRequest,
    body: unknown,
    contentType: string,
    query: URLSearchParams,
  ): Reply {
    const current = this.store.get(request.type, request.namespace ?? '', request.name!);
    let patched: unknown;
    try {
      if (contentType.startsWith('application/json-patch+json')) {
        patched = jsonPatch(current, body);
      } else if (
        contentType.startsWith('application/merge-patch+json') ||
        contentType.startsWith('application/apply-patch+yaml')
      ) {
        patched = mergePatch(current, body, false);
      } else if (contentType.startsWith('application/strategic-merge-patch+json')) {
        patched = mergePatch(current, body, true);
      } else {
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
        );
      }
    } catch (error) {
      if (error instanceof PatchTestFailed) {
        throw new ApiError(422, 'Invalid', error.message);
      }
      throw error;
    }
    const next = this.decode(request.type, patched);
    const patchVersion = (body as { metadata?: { resourceVersion?: string } } | null)?.metadata
      ?.resourceVersion;
    if (patchVersion && patchVersion !== current.metadata.resourceVersion) {
      throw conflict(request.type.resource, request.name!);
    }
    return this.commitUpdate(request, current, next, query);
  }

  private commitUpdate(
    request: ResourceRequest,
    current: KubeObject,
    next: KubeObject,
    query: URLSearchParams,
  ): Reply {
    const { type } = request;
    let result: KubeObject;
    if (request.subresource === 'status') {
      result = { ...current, status: next.status };
    } else {
      result = {
        ...next,
        apiVersion: current.apiVersion,
        kind: current.kind,
        metadata: {
          ...next.metadata,
          name: current.metadata.name,
          namespace: current.metadata.namespace,
          uid: current.metadata.uid,
          creationTimestamp: current.metadata.creationTimestamp,
          ...(current.metadata.deletionTimestamp
            ? {
                deletionTimestamp: current.metadata.deletionTimestamp,
                deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds,
              }
            : {}),
        },
      };
      if ('status' in current) {
        result.status = current.status;
      }
      validateObject(type, result);
      if (type.kind === 'Pod') {
        checkPodUpdate(current, result);
      }
      if (type.kind === 'PersistentVolumeClaim') {
        checkClaimUpdate(
          current,
          result,
          (className) =>
            typeof className === 'string' &&
            this.store.find(resourceTypeOfKind('StorageClass'), '', className)
              ?.allowVolumeExpansion === true,
        );
      }
      if (type.kind === 'Secret') {
        foldStringData(result);
      }
    }
    if (query.get('dryRun') === 'All') {
      return { code: 200, body: result };
    }
    if (JSON.stringify(result) === JSON.stringify(current)) {
      return { code: 200, body: current };
    }
    checkFinalizers(current, result);
    // An update that removes the last finalizer of a marked object deletes it (one DELETED event).
    if (result.metadata.deletionTimestamp && !result.metadata.finalizers?.length) {
      return { code: 200, body: removeObject(this.store, type, result) };
    }
    return { code: 200, body: this.store.replace(type, result) };
  }

  delete(request: ResourceRequest, body: unknown, query: URLSearchParams): Reply {
    const { type } = request;
    const options = (body && typeof body === 'object' ? body : {}) as Json;
    const current = this.store.get(type, request.namespace ?? '', request.name!);
    const preconditions = options.preconditions as
      { uid?: string; resourceVersion?: string } | undefined;
    if (preconditions?.uid && preconditions.uid !== current.metadata.uid) {
      throw new ApiError(
        409,
        'Conflict',
        `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${current.metadata.uid ?? ''}`,
        { name: request.name!, kind: type.resource },
      );
    }
    if (
      query.get('dryRun') === 'All' ||
      (Array.isArray(options.dryRun) && options.dryRun.includes('All'))
    ) {
      return { code: 200, body: current };
    }
    if (type.kind === 'Pod') {
      return { code: 200, body: deletePod(this.store, current, gracePeriod(query, options)) };
    }
    if (type.kind === 'Namespace') {
      return { code: 200, body: deleteNamespace(this.store, current) };
    }
    const marked = markForFinalizers(this.store, type, current);
    if (marked) {
      return { code: 200, body: marked };
    }
    this.store.remove(type, request.namespace ?? '', request.name!);
    return {
      code: 200,
      body: successStatus({
        name: request.name!,
        ...(type.group ? { group: type.group } : {}),
        kind: type.resource,
        uid: current.metadata.uid,
      } as never),
    };
  }

  deleteCollection(request: ResourceRequest, body: unknown, query: URLSearchParams): Reply {
    const filter = this.filter(request, query);
    const victims = this.store.list(request.type, filter.namespace).filter(filter.matches);
    for (const victim of victims) {
      this.delete(
        { ...request, name: victim.metadata.name, namespace: victim.metadata.namespace },
        body,
        query,
      );
    }
    return this.list(request, new URLSearchParams());
  }

  /** Hands out the lowest free node ports (from 30000), skipping those any service holds. */
  private nodePortAllocator(creating: KubeObject): () => number {
    const held = new Set(
      [...this.store.list(services, undefined), creating].flatMap((service) =>
        (((service.spec as Json | undefined)?.ports as Json[] | undefined) ?? []).map(
          (port) => port.nodePort,
        ),
      ),
    );
    return () => {
      let port = firstNodePort;
      while (held.has(port)) {
        port++;
      }
      held.add(port);
      return port;
    };
  }

  /** Checks the body is an object of this kind and returns it with a metadata map. */
  private decode(type: ResourceType, body: unknown): KubeObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
    }
    const object = structuredClone(body) as KubeObject;
    if (object.kind !== undefined && object.kind !== type.kind) {
      throw badRequest(
        `the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`,
      );
    }
    if (object.apiVersion !== undefined && object.apiVersion !== apiVersionOf(type)) {
      throw badRequest(
        `the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`,
      );
    }
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    if (object.metadata === undefined || object.metadata === null) {
      object.metadata = {};
    }
    if (typeof object.metadata !== 'object') {
      throw invalid(type.kind, '', [
        {
          field: 'metadata',
          type: 'FieldValueInvalid',
          detail: 'Invalid value: must be an object',
        },
      ]);
    }
    return object;
  }
}

function foldStringData(secret: KubeObject): void {
  const stringData = secret.stringData as Record<string, string> | undefined;
  if (stringData) {
    const data = { ...((secret.data ?? {}) as Record<string, string>) };
    for (const [key, value] of Object.entries(stringData)) {
      data[key] = Buffer.from(String(value)).toString('base64');
    }
    secret.data = data;
    delete secret.stringData;
  }
}

function withoutTypeMeta(object: KubeObject): KubeObject {
  const { apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  return rest;
}

const suffixAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  return [...randomBytes(5)].map((byte) => suffixAlphabet[byte % suffixAlphabet.length]).join('');
}
