/** Kubernetes `Status` objects, shaped and worded as kube-apiserver writes them. */

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** An error that the HTTP layer turns into a `Status` response with its code. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const notFound = (resource: string, name: string, group = '') =>
  new ApiError(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });

export const alreadyExists = (resource: string, name: string, group = '') =>
  new ApiError(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });

export const conflict = (resource: string, name: string) =>
  new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, kind: resource },
  );

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

export const unauthorized = () => new ApiError(401, 'Unauthorized', 'Unauthorized');

export const methodNotAllowed = () =>
  new ApiError(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );

export const gone = (message: string) => new ApiError(410, 'Expired', message);

export const internalError = (message: string) =>
  new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, {
    causes: [{ message }],
  });

export interface FieldError {
  field: string;
  type:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueForbidden'
    | 'FieldValueDuplicate'
    | 'FieldValueTooLong';
  /** The detail after the field, for example `Required value` or `Invalid value: "X": ...`. */
  detail: string;
}

/** 422 Invalid, with one cause per field error, as kube-apiserver's validation reports it. */
export function invalid(kind: string, name: string, errors: FieldError[], group = ''): ApiError {
  const rendered = errors.map((error) => `${error.field}: ${error.detail}`);
  const list = rendered.length === 1 ? rendered[0]! : `[${rendered.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${list}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errors.map((error) => ({
      reason: error.type,
      message: error.detail,
      field: error.field,
    })),
  });
}

export function forbidden(options: {
  user: string;
  verb: string;
  resource: string;
  subresource?: string;
  group: string;
  namespace?: string;
  name?: string;
}): ApiError {
  const full = options.subresource
    ? `${options.resource}/${options.subresource}`
    : options.resource;
  const subject = options.name
    ? `${qualified(options.resource, options.group)} "${options.name}"`
    : qualified(options.resource, options.group);
  const scope = options.namespace
    ? ` in the namespace "${options.namespace}"`
    : ' at the cluster scope';
  return new ApiError(
    403,
    'Forbidden',
    `${subject} is forbidden: User "${options.user}" cannot ${options.verb} resource "${full}" in API group "${options.group}"${scope}`,
    {
      ...(options.name ? { name: options.name } : {}),
      ...(options.group ? { group: options.group } : {}),
      kind: options.resource,
    },
  );
}

function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

export function successStatus(details?: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    ...(details ? { details } : {}),
    code: 200,
  };
}
