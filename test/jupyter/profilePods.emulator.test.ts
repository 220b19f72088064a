import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  PodCommandLineCodeExecutor,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  parseProfiles,
  profilePodSpec,
  type PodProfile,
} from '../../src/core/index.ts';
import { managedNames, requireTool, withEmulator } from '../support/emulatorFixture.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';

const available = jupyterServerAvailable();
const tool = "Debian's python3-ipykernel (the gateway pod's kernel)";

describe("a profile's pods, as the extension builds them (emulator)", () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  const [profile] = parseProfiles({
    analysis: {
      env: { PROFILE_MARK: 'analysis' },
      resources: { cpu: '1', memory: '512Mi' },
      volumes: [{ claimName: 'analysis-data', mountPath: '/data' }],
    },
  }) as [PodProfile];
  const base = { workspacePath: '/workspace' };

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
  });

  after(async () => {
    for (const resource of ['pods', 'secrets']) {
      assert.deepEqual(await managedNames(emulator, resource, 'default'), []);
    }
    await emulator.verifyNoLeaks();
  });

  test("the kernel pod starts its gateway; both pods get the profile's env and share its claim", async (t) => {
    if (!requireTool(t, available, tool)) {
      return;
    }
    const server = new PodJupyterServer({
      kubeconfig: emulator.kubeconfigPath,
      podName: 'profile-gateway',
      startupTimeout: 60,
      podSpec: profilePodSpec(profile, 'kernel', {
        ...base,
        image: 'quay.io/jupyter/docker-stacks-foundation',
      }),
    });
    const executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
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
  });
});
