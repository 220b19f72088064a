import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  PodCommandLineCodeExecutor,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  PodStartError,
  parseProfiles,
  profilePodSpec,
  type PodProfile,
} from '../../src/core/index.ts';
import { apiRequest, eventually, managedNames, requireTool } from '../support/emulatorFixture.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';
import { claimManifest } from '../support/storageObjects.ts';

const available = jupyterServerAvailable();
const tool = "Debian's python3-ipykernel (the gateway pod's kernel)";
const claims = '/api/v1/namespaces/default/persistentvolumeclaims';

interface Claim {
  spec: { volumeName?: string; storageClassName?: string };
  status: { phase: string };
}

function profileWithClaim(claimName: string): PodProfile {
  const [profile] = parseProfiles({
    analysis: {
      env: { PROFILE_MARK: 'analysis' },
      resources: { cpu: '1', memory: '512Mi' },
      volumes: [{ claimName, mountPath: '/data' }],
    },
  });
  return profile!;
}

describe(`a profile's pods, as the extension builds them, on ${backendName}`, () => {
  let backend: TestBackend;
  // Unique per run: the real cluster outlives this file.
  const claimName = `analysis-data-${randomBytes(3).toString('hex')}`;
  const base = { workspacePath: '/workspace' };

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
    // The cluster's default StorageClass provisions it: the claim names no class, as users' do.
    const created = await apiRequest(backend, 'POST', claims, {
      body: claimManifest(claimName),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  after(async () => {
    const claim = (await apiRequest(backend, 'GET', `${claims}/${claimName}`)).body as Claim;
    const deleted = await apiRequest(backend, 'DELETE', `${claims}/${claimName}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    // The Delete reclaim policy removes the provisioned volume with the claim.
    if (claim.spec.volumeName) {
      await eventually(
        async () =>
          (await apiRequest(backend, 'GET', `/api/v1/persistentvolumes/${claim.spec.volumeName}`))
            .status === 404,
        30_000,
        `volume ${claim.spec.volumeName} deleted with its claim`,
      );
    }
    for (const resource of ['pods', 'secrets']) {
      assert.deepEqual(await managedNames(backend, resource, 'default'), []);
    }
    await backend.verifyNoLeaks();
  });

  test("the kernel pod starts its gateway; both pods get the profile's env and share its claim", async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const profile = profileWithClaim(claimName);
    const server = new PodJupyterServer({
      kubeconfig: backend.kubeconfigPath,
      podName: `profile-gateway-${randomBytes(3).toString('hex')}`,
      startupTimeout: 60,
      podSpec: profilePodSpec(profile, 'kernel', {
        ...base,
        image: 'quay.io/jupyter/docker-stacks-foundation',
      }),
    });
    const executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 60,
      podSpec: profilePodSpec(profile, 'executor', { ...base, image: 'python:3-slim' }),
    });
    try {
      await server.start();
      const kernel = new PodJupyterCodeExecutor(server, { timeout: 20 });
      await kernel.start();
      try {
        const written = await kernel.executeCodeBlocks([
          {
            language: 'python',
            code: "import os\nopen('/data/mark.txt', 'w').write(os.environ['PROFILE_MARK'])\nprint('kernel', os.environ['PROFILE_MARK'])",
          },
        ]);
        assert.equal(written.exitCode, 0, written.output);
        assert.equal(written.output, 'kernel analysis\n');
      } finally {
        await kernel.stop();
      }
      await executor.start();
      const read = await executor.executeCodeBlocks([
        { language: 'bash', code: 'echo "$PROFILE_MARK $(cat /data/mark.txt)"' },
      ]);
      assert.equal(read.exitCode, 0, read.output);
      assert.equal(read.output, 'analysis analysis\n');
    } finally {
      await executor.stop();
      await server.stop();
    }
    const claim = (await apiRequest(backend, 'GET', `${claims}/${claimName}`)).body as Claim;
    assert.equal(claim.status.phase, 'Bound');
    assert.equal(claim.spec.storageClassName, 'standard', 'the default class was filled in');
  });

  test('a profile whose claim does not exist fails the start with the scheduler saying so, and leaves nothing', async () => {
    const missing = `no-such-claim-${randomBytes(3).toString('hex')}`;
    const executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 120,
      podSpec: profilePodSpec(profileWithClaim(missing), 'executor', {
        ...base,
        image: 'python:3-slim',
      }),
    });
    const failure = await executor.start().then(
      () => assert.fail('the start succeeded without its claim'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof PodStartError, String(failure));
    assert.equal(failure.reason, 'Unschedulable');
    assert.match(failure.message, new RegExp(`persistentvolumeclaim "${missing}" not found`));
    await executor.stop();
    await eventually(
      async () => (await managedNames(backend, 'pods', 'default')).length === 0,
      30_000,
      'the unschedulable pod deleted',
    );
  });

  test("a claim of a class that does not exist: the start's timeout shows why the claim waits", async () => {
    const waiting = `waiting-${randomBytes(3).toString('hex')}`;
    const className = `no-such-class-${randomBytes(3).toString('hex')}`;
    const created = await apiRequest(backend, 'POST', claims, {
      body: claimManifest(waiting, className),
    });
    assert.equal(created.status, 201, created.text);
    const executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      startupTimeout: 8,
      podSpec: profilePodSpec(profileWithClaim(waiting), 'executor', {
        ...base,
        image: 'python:3-slim',
      }),
    });
    try {
      const failure = await executor.start().then(
        () => assert.fail('the start succeeded with an unbound claim'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof PodStartError, String(failure));
      assert.equal(failure.reason, 'Timeout');
      assert.match(failure.message, /pod has unbound immediate PersistentVolumeClaims/);
      assert.match(
        failure.message,
        new RegExp(
          `persistentvolumeclaim/${waiting}: Warning ProvisioningFailed: storageclass.storage.k8s.io "${className}" not found`,
        ),
      );
    } finally {
      await executor.stop();
      await apiRequest(backend, 'DELETE', `${claims}/${waiting}`);
    }
  });
});
