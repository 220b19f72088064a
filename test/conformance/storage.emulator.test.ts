import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { apiRequest, eventually } from '../support/emulatorFixture.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { claimManifest } from '../support/storageObjects.ts';

interface Claim {
  metadata: { name: string; uid: string };
  spec: { volumeName?: string; accessModes: string[]; storageClassName?: string };
  status: { phase: string };
}
interface Volume {
  metadata: { name: string };
  spec: { claimRef?: { uid: string } };
  status: { phase: string };
}

const suffix = () => randomBytes(3).toString('hex');
const claimsIn = (namespace: string) => `/api/v1/namespaces/${namespace}/persistentvolumeclaims`;

describe(`claims, volumes and storage classes on ${backendName}`, () => {
  let backend: TestBackend;
  const volumesOf = async (uids: Set<string>) =>
    (
      (await apiRequest(backend, 'GET', '/api/v1/persistentvolumes')).body as { items: Volume[] }
    ).items.filter((volume) => uids.has(volume.spec.claimRef?.uid ?? ''));
  const bound = (namespace: string, name: string) =>
    eventually(
      async () => {
        const claim = (await apiRequest(backend, 'GET', `${claimsIn(namespace)}/${name}`))
          .body as Claim;
        return claim.status?.phase === 'Bound' && claim;
      },
      60_000,
      `claim ${name} bound`,
    );

  before(async () => {
    backend = await withBackend();
  });

  after(async () => {
    await backend.verifyNoLeaks();
  });

  test('claims deleted as soon as they are made leave no volume behind', async () => {
    const names = Array.from({ length: 8 }, () => `short-lived-${suffix()}`);
    const uids = new Set<string>();
    await Promise.all(
      names.map(async (name) => {
        const created = await apiRequest(backend, 'POST', claimsIn('default'), {
          body: claimManifest(name),
        });
        assert.equal(created.status, 201, created.text);
        uids.add((created.body as Claim).metadata.uid);
        const deleted = await apiRequest(backend, 'DELETE', `${claimsIn('default')}/${name}`);
        assert.equal(deleted.status, 200, deleted.text);
      }),
    );
    await eventually(
      async () => (await volumesOf(uids)).length === 0,
      60_000,
      'no volume for a deleted claim',
    );
  });

  test('a claim of a class that does not exist yet waits, and is provisioned once when the class comes', async () => {
    const className = `late-${suffix()}`;
    const name = `waits-${suffix()}`;
    const created = await apiRequest(backend, 'POST', claimsIn('default'), {
      body: claimManifest(name, className),
    });
    assert.equal(created.status, 201, created.text);
    try {
      const failed = await eventually(async () => {
        const events = (
          await apiRequest(
            backend,
            'GET',
            `/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D${name}`,
          )
        ).body as { items: { reason: string; message: string }[] };
        return events.items.find((event) => event.reason === 'ProvisioningFailed');
      }, 30_000);
      assert.match(
        failed.message,
        new RegExp(`storageclass.storage.k8s.io "${className}" not found`),
      );
      const classCreated = await apiRequest(
        backend,
        'POST',
        '/apis/storage.k8s.io/v1/storageclasses',
        {
          body: {
            apiVersion: 'storage.k8s.io/v1',
            kind: 'StorageClass',
            metadata: { name: className },
            provisioner: 'kubernetes.io/host-path',
          },
        },
      );
      assert.equal(classCreated.status, 201, classCreated.text);
      const claim = await bound('default', name);
      assert.equal((await volumesOf(new Set([claim.metadata.uid]))).length, 1, 'one volume');

      // Bound, its spec is immutable but for the storage request.
      const changed = structuredClone(claim);
      changed.spec.accessModes = ['ReadWriteMany'];
      const refused = await apiRequest(backend, 'PUT', `${claimsIn('default')}/${name}`, {
        body: changed,
      });
      assert.equal(refused.status, 422, refused.text);
      assert.match(
        refused.text,
        /spec: Forbidden: spec is immutable after creation except resources\.requests and volumeAttributesClassName for bound claims/,
      );
    } finally {
      await apiRequest(backend, 'DELETE', `${claimsIn('default')}/${name}`);
      await apiRequest(backend, 'DELETE', `/apis/storage.k8s.io/v1/storageclasses/${className}`);
    }
  });

  test('a claim made while there is no default class gets the one that comes later', async () => {
    const classes = '/apis/storage.k8s.io/v1/storageclasses';
    const standard = (await apiRequest(backend, 'GET', `${classes}/standard`)).body as {
      metadata: { name: string; annotations: Record<string, string> };
      provisioner: string;
    };
    const again = {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: standard.metadata.name, annotations: standard.metadata.annotations },
      provisioner: standard.provisioner,
    };
    const name = `classless-${suffix()}`;
    assert.equal((await apiRequest(backend, 'DELETE', `${classes}/standard`)).status, 200);
    try {
      const created = await apiRequest(backend, 'POST', claimsIn('default'), {
        body: claimManifest(name),
      });
      assert.equal(created.status, 201, created.text);
      assert.equal((created.body as Claim).spec.storageClassName, undefined, 'no default to give');
    } finally {
      const restored = await apiRequest(backend, 'POST', classes, { body: again });
      assert.equal(restored.status, 201, restored.text);
    }
    try {
      const claim = await bound('default', name);
      assert.equal(claim.spec.storageClassName, 'standard');
    } finally {
      await apiRequest(backend, 'DELETE', `${claimsIn('default')}/${name}`);
    }
  });

  test('a volume needs access modes, a capacity and a source; one made by hand is Available', async () => {
    const name = `by-hand-${suffix()}`;
    const invalid = await apiRequest(backend, 'POST', '/api/v1/persistentvolumes', {
      body: { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name } },
    });
    assert.equal(invalid.status, 422, invalid.text);
    for (const field of [
      /spec\.accessModes: Required value/,
      /spec\.capacity: Required value/,
      /spec: Required value: must specify a volume type/,
    ]) {
      assert.match(invalid.text, field);
    }
    const made = await apiRequest(backend, 'POST', '/api/v1/persistentvolumes', {
      body: {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name },
        spec: {
          accessModes: ['ReadWriteOnce'],
          capacity: { storage: '1Mi' },
          hostPath: { path: `/tmp/pod-runner-by-hand-${name}` },
          storageClassName: 'manual',
        },
      },
    });
    assert.equal(made.status, 201, made.text);
    try {
      await eventually(
        async () =>
          ((await apiRequest(backend, 'GET', `/api/v1/persistentvolumes/${name}`)).body as Volume)
            .status.phase === 'Available',
        30_000,
        'the volume Available',
      );
    } finally {
      await apiRequest(backend, 'DELETE', `/api/v1/persistentvolumes/${name}`);
    }
  });

  test('a claim in use outlives its deletion until its pod is gone, and no new pod is placed on it meanwhile', async () => {
    const name = `in-use-${suffix()}`;
    const pod = (podName: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName },
      spec: {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: name } }],
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: [
              'sh',
              '-c',
              'echo kept > /data/note; trap "exit 0" TERM; while true; do sleep 1; done',
            ],
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
          },
        ],
      },
    });
    const pods = '/api/v1/namespaces/default/pods';
    assert.equal(
      (await apiRequest(backend, 'POST', claimsIn('default'), { body: claimManifest(name) }))
        .status,
      201,
    );
    const claim = await bound('default', name);
    assert.deepEqual(
      (claim as unknown as { metadata: { finalizers: string[] } }).metadata.finalizers,
      ['kubernetes.io/pvc-protection'],
    );
    assert.equal(
      (await apiRequest(backend, 'POST', pods, { body: pod(`user-${name}`) })).status,
      201,
    );
    try {
      await eventually(
        async () =>
          ((await apiRequest(backend, 'GET', `${pods}/user-${name}`)).body as Volume).status
            ?.phase === 'Running',
        60_000,
        'the pod using the claim Running',
      );
      const deleted = await apiRequest(backend, 'DELETE', `${claimsIn('default')}/${name}`);
      assert.equal(deleted.status, 200, deleted.text);
      const terminating = (await apiRequest(backend, 'GET', `${claimsIn('default')}/${name}`))
        .body as Claim & { metadata: { deletionTimestamp?: string } };
      assert.ok(terminating.metadata.deletionTimestamp, 'marked for deletion');
      assert.equal(terminating.status.phase, 'Bound', 'kept while in use');
      assert.equal(
        (await apiRequest(backend, 'POST', pods, { body: pod(`late-${name}`) })).status,
        201,
      );
      const refused = await eventually(async () => {
        const late = (await apiRequest(backend, 'GET', `${pods}/late-${name}`)).body as {
          status?: { conditions?: { type: string; reason?: string; message?: string }[] };
        };
        return late.status?.conditions?.find(
          (condition) => condition.type === 'PodScheduled' && condition.reason === 'Unschedulable',
        );
      }, 30_000);
      assert.match(
        refused.message ?? '',
        new RegExp(`persistentvolumeclaim "${name}" is being deleted`),
      );
    } finally {
      for (const podName of [`user-${name}`, `late-${name}`]) {
        await apiRequest(backend, 'DELETE', `${pods}/${podName}`);
      }
    }
    await eventually(
      async () =>
        (await apiRequest(backend, 'GET', `${claimsIn('default')}/${name}`)).status === 404 &&
        (await volumesOf(new Set([claim.metadata.uid]))).length === 0,
      60_000,
      'the claim and its volume gone with the pods',
    );
  });

  test('a claim can be replaced unchanged (any key order) and relabelled, not resized without an expandable class; a pod never scheduled does not hold it', async () => {
    const name = `kept-${suffix()}`;
    assert.equal(
      (await apiRequest(backend, 'POST', claimsIn('default'), { body: claimManifest(name) }))
        .status,
      201,
    );
    const claim = await bound('default', name);
    const sortedKeys = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(sortedKeys)
        : value && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .sort(([a], [b]) => (a < b ? 1 : -1))
                .map(([key, item]) => [key, sortedKeys(item)]),
            )
          : value;
    const relabelled = sortedKeys({
      ...claim,
      metadata: { ...claim.metadata, labels: { team: 'data' } },
    });
    const replaced = await apiRequest(backend, 'PUT', `${claimsIn('default')}/${name}`, {
      body: relabelled,
    });
    assert.equal(replaced.status, 200, replaced.text);
    const resized = await apiRequest(backend, 'PATCH', `${claimsIn('default')}/${name}`, {
      body: { spec: { resources: { requests: { storage: '2Mi' } } } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(resized.status, 403, resized.text);
    assert.match(
      resized.text,
      /only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize/,
    );
    // Its other claim is missing: the pod is never placed on a node, so it holds nothing.
    const pods = '/api/v1/namespaces/default/pods';
    const waiting = `never-placed-${suffix()}`;
    const pod = await apiRequest(backend, 'POST', pods, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: waiting },
        spec: {
          volumes: [
            { name: 'data', persistentVolumeClaim: { claimName: name } },
            { name: 'other', persistentVolumeClaim: { claimName: `missing-${suffix()}` } },
          ],
          containers: [
            {
              name: 'main',
              image: 'busybox',
              command: ['sleep', '60'],
              volumeMounts: [
                { name: 'data', mountPath: '/data' },
                { name: 'other', mountPath: '/other' },
              ],
            },
          ],
        },
      },
    });
    assert.equal(pod.status, 201, pod.text);
    try {
      assert.equal(
        (await apiRequest(backend, 'DELETE', `${claimsIn('default')}/${name}`)).status,
        200,
      );
      await eventually(
        async () =>
          (await apiRequest(backend, 'GET', `${claimsIn('default')}/${name}`)).status === 404,
        30_000,
        'the claim gone though an unscheduled pod names it',
      );
    } finally {
      await apiRequest(backend, 'DELETE', `${pods}/${waiting}`);
    }
  });

  test("a namespace's deletion takes its claims and their volumes with it", async () => {
    const namespace = `storage-${suffix()}`;
    const made = await apiRequest(backend, 'POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    });
    assert.equal(made.status, 201, made.text);
    const created = await apiRequest(backend, 'POST', claimsIn(namespace), {
      body: claimManifest('data'),
    });
    assert.equal(created.status, 201, created.text);
    const claim = await bound(namespace, 'data');
    assert.equal(
      (await apiRequest(backend, 'DELETE', `/api/v1/namespaces/${namespace}`)).status,
      200,
    );
    await eventually(
      async () =>
        (await apiRequest(backend, 'GET', `/api/v1/namespaces/${namespace}`)).status === 404 &&
        (await volumesOf(new Set([claim.metadata.uid]))).length === 0,
      90_000,
      'the namespace, its claim and its volume gone',
    );
  });
});
