import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { apiRequest, restrictedToken, withEmulator } from '../support/emulatorFixture.ts';
import { PodClient } from '../support/podHelpers.ts';

interface Status {
  kind: string;
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason: string; message: string; field: string }[];
  };
}

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'semantics', tier: name.startsWith('a') ? 'front' : 'back' } },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'main',
        image: 'busybox',
        command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'],
      },
    ],
  },
  ...extra,
});

describe('emulator API semantics and errors', () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let pods: PodClient;
  const podsPath = '/api/v1/namespaces/default/pods';

  before(async () => {
    emulator = await withEmulator();
    pods = new PodClient(emulator);
  });

  after(async () => {
    await emulator.verifyNoLeaks();
  });

  test('401 Unauthorized for a wrong token; /version is public', async () => {
    const response = await apiRequest(emulator, 'GET', podsPath, { token: 'wrong' });
    assert.equal(response.status, 401);
    assert.deepEqual(response.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    const version = await apiRequest(emulator, 'GET', '/version', { token: '' });
    assert.equal(version.status, 200);
  });

  test('403 Forbidden with the RBAC message for the restricted user, on REST and on the exec upgrade', async () => {
    const secrets = await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/secrets/x', {
      token: restrictedToken(emulator),
    });
    assert.equal(secrets.status, 403);
    assert.equal(
      (secrets.body as Status).message,
      'secrets "x" is forbidden: User "pod-runner-restricted" cannot get resource "secrets" in API group "" in the namespace "default"',
    );
    await pods.run('target', 'trap "exit 0" TERM; while true; do sleep 0.2; done');
    const ca = Buffer.from(
      emulator.kubeconfig.clusters[0]!.cluster['certificate-authority-data'],
      'base64',
    );
    const url = `${emulator.url.replace('https', 'wss')}${podsPath}/target/exec?command=true&stdout=true`;
    const rejected = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const socket = new WebSocket(url, ['v5.channel.k8s.io'], {
        ca,
        headers: { Authorization: `Bearer ${restrictedToken(emulator)}` },
      });
      socket.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      socket.on('open', () => reject(new Error('the restricted user must not be able to exec')));
      socket.on('error', () => undefined);
    });
    assert.equal(rejected.code, 403);
    assert.equal(
      (JSON.parse(rejected.body) as Status).message,
      'pods "target" is forbidden: User "pod-runner-restricted" cannot create resource "pods/exec" in API group "" in the namespace "default"',
    );
    const review = await apiRequest(
      emulator,
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        token: restrictedToken(emulator),
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              namespace: 'default',
              verb: 'create',
              resource: 'pods',
              subresource: 'exec',
            },
          },
        },
      },
    );
    assert.equal(review.status, 201);
    assert.equal((review.body as { status: { allowed: boolean } }).status.allowed, false);
  });

  test('404 NotFound and 409 AlreadyExists in the apiserver shape', async () => {
    const missing = await apiRequest(emulator, 'GET', `${podsPath}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'pods' },
      code: 404,
    });
    const duplicate = await apiRequest(emulator, 'POST', podsPath, { body: pod('target') });
    assert.equal(duplicate.status, 409);
    assert.equal((duplicate.body as Status).reason, 'AlreadyExists');
    assert.equal((duplicate.body as Status).message, 'pods "target" already exists');
    const noNamespace = await apiRequest(emulator, 'POST', '/api/v1/namespaces/ghost/pods', {
      body: pod('x'),
    });
    assert.equal(noNamespace.status, 404);
    assert.equal((noNamespace.body as Status).message, 'namespaces "ghost" not found');
  });

  test('422 Invalid with details.causes: DNS-1123 names (a trailing dash too), missing fields, bad restartPolicy', async () => {
    const badName = await apiRequest(emulator, 'POST', podsPath, { body: pod('ends-with-dash-') });
    assert.equal(badName.status, 422);
    const status = badName.body as Status;
    assert.equal(status.reason, 'Invalid');
    assert.match(
      status.message,
      /^Pod "ends-with-dash-" is invalid: metadata\.name: Invalid value: "ends-with-dash-": a lowercase RFC 1123 subdomain must consist of/,
    );
    assert.equal(status.details?.causes?.[0]?.field, 'metadata.name');
    assert.equal(status.details?.causes?.[0]?.reason, 'FieldValueInvalid');
    const empty = await apiRequest(emulator, 'POST', podsPath, {
      body: { metadata: { name: 'empty' }, spec: { restartPolicy: 'Sometimes', containers: [] } },
    });
    assert.equal(empty.status, 422);
    const causes = (empty.body as Status).details?.causes ?? [];
    assert.deepEqual(
      causes.map((c) => [c.field, c.reason]),
      [
        ['spec.containers', 'FieldValueRequired'],
        ['spec.restartPolicy', 'FieldValueNotSupported'],
      ],
    );
    assert.match(
      (empty.body as Status).message,
      /^Pod "empty" is invalid: \[spec\.containers: Required value, spec\.restartPolicy: Unsupported value: "Sometimes"/,
    );
    const wrongType = await apiRequest(emulator, 'POST', podsPath, {
      body: { metadata: { name: 'typed' }, spec: { containers: 'x' } },
    });
    assert.equal(wrongType.status, 422);
    const mismatch = await apiRequest(emulator, 'POST', podsPath, {
      body: pod('elsewhere', { metadata: { name: 'elsewhere', namespace: 'kube-system' } }),
    });
    assert.equal(mismatch.status, 400);
    assert.equal(
      (mismatch.body as Status).message,
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  });

  test('422 for annotations over 256 KiB in all, on create and on a merge patch', async () => {
    const annotated = (bytes: number) =>
      pod('annotated', {
        metadata: { name: 'annotated', annotations: { big: 'x'.repeat(bytes) } },
      });
    const tooBig = await apiRequest(emulator, 'POST', podsPath, { body: annotated(262_142) });
    assert.equal(tooBig.status, 422);
    assert.equal(
      (tooBig.body as Status).message,
      'Pod "annotated" is invalid: metadata.annotations: Too long: must have at most 262144 bytes',
    );
    assert.equal((tooBig.body as Status).details?.causes?.[0]?.reason, 'FieldValueTooLong');
    const fits = await apiRequest(emulator, 'POST', podsPath, { body: annotated(262_141) });
    assert.equal(fits.status, 201);
    const grown = await apiRequest(emulator, 'PATCH', `${podsPath}/annotated`, {
      body: { metadata: { annotations: { more: 'y' } } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(grown.status, 422);
    await apiRequest(emulator, 'DELETE', `${podsPath}/annotated?gracePeriodSeconds=0`);
  });

  test('dryRun=All validates and answers without storing; generateName makes a name', async () => {
    const dry = await apiRequest(emulator, 'POST', `${podsPath}?dryRun=All`, { body: pod('dry') });
    assert.equal(dry.status, 201);
    assert.equal((await apiRequest(emulator, 'GET', `${podsPath}/dry`)).status, 404);
    const dryInvalid = await apiRequest(emulator, 'POST', `${podsPath}?dryRun=All`, {
      body: pod('Dry'),
    });
    assert.equal(dryInvalid.status, 422);
    const generated = await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/configmaps', {
      body: { metadata: { generateName: 'cfg-' }, data: { a: '1' } },
    });
    assert.equal(generated.status, 201);
    assert.match(
      (generated.body as { metadata: { name: string } }).metadata.name,
      /^cfg-[a-z0-9]{5}$/,
    );
  });

  test('list with label and field selectors; unsupported field labels are rejected', async () => {
    await apiRequest(emulator, 'POST', podsPath, { body: pod('alpha') });
    await apiRequest(emulator, 'POST', podsPath, { body: pod('beta') });
    const names = async (query: string) =>
      (
        (await apiRequest(emulator, 'GET', `${podsPath}?${query}`)).body as {
          items: { metadata: { name: string } }[];
        }
      ).items
        .map((p) => p.metadata.name)
        .sort();
    assert.deepEqual(await names('labelSelector=app%3Dsemantics,tier%3Dfront'), ['alpha']);
    assert.deepEqual(await names('labelSelector=tier%20in%20(front,back),app'), ['alpha', 'beta']);
    assert.deepEqual(await names('labelSelector=tier!%3Dfront,app%3Dsemantics'), ['beta']);
    assert.deepEqual(await names('fieldSelector=metadata.name%3Dbeta'), ['beta']);
    assert.deepEqual(await names('fieldSelector=metadata.name!%3Dbeta,metadata.name!%3Dtarget'), [
      'alpha',
    ]);
    const unsupported = await apiRequest(
      emulator,
      'GET',
      `${podsPath}?fieldSelector=spec.image%3Dx`,
    );
    assert.equal(unsupported.status, 400);
    assert.equal((unsupported.body as Status).message, 'field label not supported: spec.image');
    const list = (await apiRequest(emulator, 'GET', podsPath)).body as {
      kind: string;
      metadata: { resourceVersion: string };
    };
    assert.equal(list.kind, 'PodList');
    assert.match(list.metadata.resourceVersion, /^\d+$/);
  });

  test('update with a stale resourceVersion is a 409 Conflict; merge and JSON patches apply; pod spec is immutable', async () => {
    const created = (
      await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/configmaps', {
        body: { metadata: { name: 'versioned' }, data: { a: '1' } },
      })
    ).body as { metadata: { resourceVersion: string } };
    const updated = await apiRequest(
      emulator,
      'PUT',
      '/api/v1/namespaces/default/configmaps/versioned',
      {
        body: {
          metadata: { name: 'versioned', resourceVersion: created.metadata.resourceVersion },
          data: { a: '2' },
        },
      },
    );
    assert.equal(updated.status, 200);
    const stale = await apiRequest(
      emulator,
      'PUT',
      '/api/v1/namespaces/default/configmaps/versioned',
      {
        body: {
          metadata: { name: 'versioned', resourceVersion: created.metadata.resourceVersion },
          data: { a: '3' },
        },
      },
    );
    assert.equal(stale.status, 409);
    assert.equal((stale.body as Status).reason, 'Conflict');
    const merged = await apiRequest(
      emulator,
      'PATCH',
      '/api/v1/namespaces/default/configmaps/versioned',
      { body: { data: { b: 'x' } }, contentType: 'application/merge-patch+json' },
    );
    assert.deepEqual((merged.body as { data: Record<string, string> }).data, { a: '2', b: 'x' });
    const patched = await apiRequest(
      emulator,
      'PATCH',
      '/api/v1/namespaces/default/configmaps/versioned',
      { body: [{ op: 'remove', path: '/data/a' }], contentType: 'application/json-patch+json' },
    );
    assert.deepEqual((patched.body as { data: Record<string, string> }).data, { b: 'x' });
    const labelled = await apiRequest(emulator, 'PATCH', `${podsPath}/alpha`, {
      body: { metadata: { labels: { extra: 'yes' } } },
      contentType: 'application/strategic-merge-patch+json',
    });
    assert.equal(labelled.status, 200);
    const immutable = await apiRequest(emulator, 'PATCH', `${podsPath}/alpha`, {
      body: { spec: { restartPolicy: 'Never' } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(immutable.status, 422);
    assert.match(
      (immutable.body as Status).message,
      /pod updates may not change fields other than/,
    );
  });

  test('secrets: stringData is folded into base64 data', async () => {
    const created = await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/secrets', {
      body: { metadata: { name: 'token' }, stringData: { KG_AUTH_TOKEN: 'abc' } },
    });
    assert.equal(created.status, 201);
    const secret = created.body as {
      data: Record<string, string>;
      stringData?: unknown;
      type: string;
    };
    assert.deepEqual(secret.data, { KG_AUTH_TOKEN: Buffer.from('abc').toString('base64') });
    assert.equal(secret.stringData, undefined);
    assert.equal(secret.type, 'Opaque');
    const deleted = await apiRequest(
      emulator,
      'DELETE',
      '/api/v1/namespaces/default/secrets/token',
    );
    assert.equal((deleted.body as Status).status, 'Success');
  });

  test('a deleted namespace goes Terminating, takes its pods with it, then disappears', async () => {
    assert.equal(
      (
        await apiRequest(emulator, 'POST', '/api/v1/namespaces', {
          body: { metadata: { name: 'scratch' } },
        })
      ).status,
      201,
    );
    await pods.create(pod('inside'), 'scratch');
    await pods.waitReady('inside', 'scratch');
    const deleting = await apiRequest(emulator, 'DELETE', '/api/v1/namespaces/scratch');
    assert.equal((deleting.body as { status: { phase: string } }).status.phase, 'Terminating');
    const refused = await apiRequest(emulator, 'POST', '/api/v1/namespaces/scratch/configmaps', {
      body: { metadata: { name: 'late' } },
    });
    assert.equal(refused.status, 403);
    await pods.waitGone('inside', 'scratch');
    const deadline = Date.now() + 10_000;
    while ((await apiRequest(emulator, 'GET', '/api/v1/namespaces/scratch')).status !== 404) {
      assert.ok(Date.now() < deadline, 'namespace removed');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  test('discovery and OpenAPI documents cover the served kinds', async () => {
    const resources = (await apiRequest(emulator, 'GET', '/api/v1')).body as {
      resources: { name: string; verbs: string[] }[];
    };
    const names = resources.resources.map((r) => r.name);
    for (const name of [
      'pods',
      'pods/exec',
      'pods/portforward',
      'pods/log',
      'pods/status',
      'secrets',
      'services',
      'configmaps',
      'events',
      'namespaces',
    ]) {
      assert.ok(names.includes(name), name);
    }
    const index = (await apiRequest(emulator, 'GET', '/openapi/v3')).body as {
      paths: Record<string, { serverRelativeURL: string }>;
    };
    const document = (await apiRequest(emulator, 'GET', index.paths['api/v1']!.serverRelativeURL))
      .body as { components: { schemas: Record<string, unknown> } };
    assert.ok(document.components.schemas['io.k8s.api.core.v1.Pod']);
  });

  test('pods/status reads the pod and updates only its status', async () => {
    const status = await apiRequest(emulator, 'GET', `${podsPath}/alpha/status`);
    assert.equal((status.body as { metadata: { name: string } }).metadata.name, 'alpha');
    const patched = await apiRequest(emulator, 'PATCH', `${podsPath}/alpha/status`, {
      body: {
        metadata: { labels: { ignored: 'yes' } },
        status: { nominatedNodeName: 'elsewhere' },
      },
      contentType: 'application/merge-patch+json',
    });
    const body = patched.body as {
      metadata: { labels: Record<string, string> };
      status: { nominatedNodeName: string; phase: string };
    };
    assert.equal(body.status.nominatedNodeName, 'elsewhere');
    assert.equal(body.status.phase, 'Running');
    assert.equal(
      body.metadata.labels.ignored,
      undefined,
      'the status subresource leaves metadata alone',
    );
  });

  test('exec speaks the older channel protocols too: v4 Status and v1 plain-text errors', async () => {
    const ca = Buffer.from(
      emulator.kubeconfig.clusters[0]!.cluster['certificate-authority-data'],
      'base64',
    );
    const execOver = (protocol: string) =>
      new Promise<{ protocol: string; frames: Buffer[] }>((resolve, reject) => {
        const url = `${emulator.url.replace('https', 'wss')}${podsPath}/target/exec?command=sh&command=-c&command=echo%20hi%3B%20exit%205&stdout=true&stderr=true`;
        const socket = new WebSocket(url, [protocol], {
          ca,
          headers: { Authorization: `Bearer ${emulator.kubeconfig.users[0]!.user.token}` },
        });
        const frames: Buffer[] = [];
        socket.on('message', (data: Buffer) => frames.push(data));
        socket.on('close', () => resolve({ protocol: socket.protocol, frames }));
        socket.on('error', reject);
      });
    const v4 = await execOver('v4.channel.k8s.io');
    assert.equal(v4.protocol, 'v4.channel.k8s.io');
    assert.deepEqual(v4.frames[0], Buffer.from('\x01hi\n'));
    const status = JSON.parse(v4.frames.at(-1)!.subarray(1).toString()) as Status;
    assert.equal(v4.frames.at(-1)![0], 3);
    assert.deepEqual(status.details?.causes, [{ reason: 'ExitCode', message: '5' }]);
    const v1 = await execOver('channel.k8s.io');
    assert.equal(v1.protocol, 'channel.k8s.io');
    assert.deepEqual(v1.frames[0], Buffer.from('\x01hi\n'));
    assert.match(v1.frames.at(-1)!.subarray(1).toString(), /exit status 5/);
  });

  test('cleanup of this file: graceful deletes of everything left', async () => {
    for (const name of ['target', 'alpha', 'beta']) {
      await pods.delete(name);
    }
    for (const name of ['target', 'alpha', 'beta']) {
      await pods.waitGone(name);
    }
  });
});
