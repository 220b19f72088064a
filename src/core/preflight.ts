import { AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { makeApiClient, withApiRetry } from './apiRetry.ts';
import { KubernetesApiError, PermissionDeniedError } from './errors.ts';
import { rbacHint, translateApiError } from './kubernetesErrors.ts';
import type { Logger } from './logger.ts';

export interface Permission {
  verb: string;
  resource: string;
  subresource?: string;
}

const podLifecycle: Permission[] = [
  { verb: 'create', resource: 'pods' },
  { verb: 'get', resource: 'pods' },
  { verb: 'watch', resource: 'pods' },
  { verb: 'delete', resource: 'pods' },
  { verb: 'get', resource: 'pods', subresource: 'log' },
];

/** What PodCommandLineCodeExecutor needs (websocket exec is authorized as `get` before 1.35). */
export const executorPermissions: Permission[] = [
  ...podLifecycle,
  { verb: 'create', resource: 'pods', subresource: 'exec' },
  { verb: 'get', resource: 'pods', subresource: 'exec' },
];

/** What PodJupyterServer needs: its pod, Secret and Service, and the port-forward to reach it. */
export const jupyterServerPermissions: Permission[] = [
  ...podLifecycle,
  { verb: 'create', resource: 'secrets' },
  { verb: 'delete', resource: 'secrets' },
  { verb: 'create', resource: 'services' },
  { verb: 'delete', resource: 'services' },
  { verb: 'create', resource: 'pods', subresource: 'portforward' },
  { verb: 'get', resource: 'pods', subresource: 'portforward' },
];

const describe = (p: Permission) =>
  `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ''}`;

/**
 * Asks the API server (SelfSubjectAccessReview) whether the user may do everything `permissions`
 * lists in the namespace, and throws one PermissionDeniedError naming every missing permission,
 * before anything is created. A cluster that does not answer access reviews is not blocked (the
 * calls themselves then report what is missing); an unreachable one fails here.
 */
export async function checkPermissions(
  kubeConfig: KubeConfig,
  namespace: string,
  permissions: Permission[],
  logger: Logger,
): Promise<void> {
  const api = makeApiClient(kubeConfig, AuthorizationV1Api);
  let answers: boolean[];
  try {
    answers = await Promise.all(
      permissions.map(async (permission) => {
        const review = await withApiRetry(
          () =>
            api.createSelfSubjectAccessReview({
              body: {
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SelfSubjectAccessReview',
                spec: {
                  resourceAttributes: {
                    namespace,
                    verb: permission.verb,
                    resource: permission.resource,
                    ...(permission.subresource ? { subresource: permission.subresource } : {}),
                  },
                },
              },
            }),
          { idempotent: true },
        );
        return review.status?.allowed === true;
      }),
    );
  } catch (error) {
    const translated = translateApiError(error, 'check permissions');
    if (translated instanceof KubernetesApiError && translated.statusCode === 0) {
      throw translated;
    }
    logger.warn(`cannot check permissions in advance (${translated.message}); going on`);
    return;
  }
  const missing = permissions.filter((_, index) => !answers[index]);
  if (missing.length > 0) {
    throw new PermissionDeniedError(
      `the Kubernetes user may not ${missing.map(describe).join(', ')} in namespace ${namespace}; nothing was created. ${rbacHint}`,
      403,
      'Forbidden',
    );
  }
}
