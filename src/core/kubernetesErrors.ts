import { ApiException } from '@kubernetes/client-node';
import { KubernetesApiError, PermissionDeniedError } from './errors.ts';

export interface StatusBody {
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

export const rbacHint = "see the README's RBAC section for the minimum Role";

/** Turns an apiserver error response into a typed error; a 403 names what permission is missing. */
export function apiErrorFromStatus(
  statusCode: number,
  body: string,
  action: string,
): KubernetesApiError {
  let status: StatusBody = {};
  try {
    status = JSON.parse(body) as StatusBody;
  } catch {
    status = { message: body.trim() || undefined };
  }
  const message = status.message ?? `HTTP ${statusCode}`;
  if (statusCode === 403) {
    const missing =
      /cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?/.exec(
        message,
      );
    const what = missing
      ? `the Kubernetes user may not ${missing[1]} ${missing[2]}${missing[4] ? ` in namespace ${missing[4]}` : ''}`
      : 'the Kubernetes user lacks a permission';
    return new PermissionDeniedError(
      `${action}: ${what} (${message}); ${rbacHint}`,
      403,
      status.reason ?? 'Forbidden',
    );
  }
  return new KubernetesApiError(`${action}: ${message}`, statusCode, status.reason);
}

/** Wraps client-node's ApiException (and network errors) in the library's typed errors. */
export function translateApiError(error: unknown, action: string): Error {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body ?? {});
    return apiErrorFromStatus(error.code, body, action);
  }
  if (error instanceof KubernetesApiError) {
    return error;
  }
  return new KubernetesApiError(
    `${action}: ${(error as Error)?.message ?? String(error)}`,
    0,
    undefined,
    { cause: error },
  );
}

export function isNotFound(error: unknown): boolean {
  return (
    (error instanceof ApiException && error.code === 404) ||
    (error instanceof KubernetesApiError && error.statusCode === 404)
  );
}
