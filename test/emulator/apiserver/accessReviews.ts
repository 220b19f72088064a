import type { Authorizer, EmulatorUser } from './authorization.ts';
import { text } from '../jsonValues.ts';
import { apiVersionOf, type ResourceType } from '../resources.ts';

type Json = Record<string, unknown>;

/**
 * Answers a SelfSubjectAccessReview (may this user do that?) or a SelfSubjectRulesReview (what may
 * this user do?) from the emulator's authorizer; reviews are answered, never stored.
 */
export function answerAccessReview(
  type: ResourceType,
  body: Json,
  user: EmulatorUser,
  authorizer: Authorizer,
): Json {
  const spec = (body.spec ?? {}) as Json;
  if (type.kind === 'SelfSubjectRulesReview') {
    return {
      kind: type.kind,
      apiVersion: apiVersionOf(type),
      metadata: { creationTimestamp: null },
      spec,
      status: {
        resourceRules: authorizer.rulesFor(user),
        nonResourceRules: [
          {
            verbs: ['get'],
            nonResourceURLs: [
              '/api',
              '/api/*',
              '/apis',
              '/apis/*',
              '/healthz',
              '/livez',
              '/readyz',
              '/version',
              '/version/',
              '/openapi',
              '/openapi/*',
            ],
          },
        ],
        incomplete: false,
      },
    };
  }
  const attributes = spec.resourceAttributes as Json | undefined;
  const allowed = attributes
    ? authorizer.allowed(user, {
        verb: text(attributes.verb),
        group: text(attributes.group),
        resource: text(attributes.resource),
        ...(attributes.subresource ? { subresource: text(attributes.subresource) } : {}),
        ...(attributes.namespace ? { namespace: text(attributes.namespace) } : {}),
      })
    : true;
  return {
    kind: type.kind,
    apiVersion: apiVersionOf(type),
    metadata: { creationTimestamp: null },
    spec,
    status: allowed
      ? { allowed: true, reason: "allowed by the emulator's RBAC rules" }
      : { allowed: false },
  };
}
