import { randomBytes } from 'node:crypto';

export interface EmulatorUser {
  name: string;
  groups: string[];
  token: string;
}

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** A deny rule: the user may do everything except what a rule matches. */
interface DenyRule {
  resource: string;
  subresource?: string;
  verbs: string[] | '*';
}

export const adminUserName = 'pod-runner-admin';
export const restrictedUserName = 'pod-runner-restricted';

/** What the restricted user may do anything with (core API group): no exec, no secrets. */
export const restrictedUserResources = [
  'pods',
  'pods/log',
  'pods/status',
  'pods/portforward',
  'services',
  'configmaps',
  'events',
  'namespaces',
] as const;

/**
 * The emulator's two users: an admin (system:masters) and a restricted user who may not exec
 * into pods or touch secrets. Both authenticate with bearer tokens.
 */
export class Authorizer {
  readonly admin: EmulatorUser = {
    name: adminUserName,
    groups: ['system:masters', 'system:authenticated'],
    token: randomBytes(24).toString('hex'),
  };
  readonly restricted: EmulatorUser = {
    name: restrictedUserName,
    groups: ['system:authenticated'],
    token: randomBytes(24).toString('hex'),
  };
  private readonly denied = new Map<string, DenyRule[]>([
    [
      restrictedUserName,
      [
        { resource: 'pods', subresource: 'exec', verbs: ['create', 'get'] },
        { resource: 'secrets', verbs: '*' },
      ],
    ],
  ]);

  authenticate(authorization: string | undefined): EmulatorUser | undefined {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match) {
      return undefined;
    }
    const token = match[1]!.trim();
    return [this.admin, this.restricted].find((user) => user.token === token);
  }

  allowed(user: EmulatorUser, attributes: ResourceAttributes): boolean {
    const rules = this.denied.get(user.name) ?? [];
    return !rules.some(
      (rule) =>
        rule.resource === attributes.resource &&
        (rule.subresource ?? '') === (attributes.subresource ?? '') &&
        (rule.verbs === '*' || rule.verbs.includes(attributes.verb)),
    );
  }

  /** The rules a SelfSubjectRulesReview reports: what the user may do, in RBAC's shape. */
  rulesFor(user: EmulatorUser): { verbs: string[]; apiGroups: string[]; resources: string[] }[] {
    if (!this.denied.has(user.name)) {
      return [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }];
    }
    return [
      {
        verbs: ['*'],
        apiGroups: [''],
        resources: [...restrictedUserResources],
      },
      {
        verbs: ['create'],
        apiGroups: ['authorization.k8s.io'],
        resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
      },
    ];
  }
}
