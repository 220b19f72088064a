import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import {
  eventually,
  execFileAsync,
  pythonKubernetesAvailable,
  requireTool,
  withEmulator,
} from '../support/emulatorFixture.ts';

const available = pythonKubernetesAvailable();

describe("Debian's python3-kubernetes against the emulator", () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;

  before(async () => {
    emulator = await withEmulator();
  });

  after(async () => {
    await emulator.verifyNoLeaks();
  });

  test('exec over v4 (stdout, stderr, exit code) and port-forward over v4 to a server in the pod', async (t) => {
    if (
      !requireTool(
        t,
        available,
        "Debian's python3-kubernetes (/usr/bin/python3 -c 'import kubernetes')",
      )
    ) {
      return;
    }
    const config = new KubeConfig();
    config.loadFromFile(emulator.kubeconfigPath);
    const core = config.makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'python-client' },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'web',
              image: 'python:3.12',
              workingDir: '/srv',
              command: [
                'sh',
                '-c',
                'echo hello from the pod > hello.txt && exec python -m http.server 8080',
              ],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    });
    await eventually(
      async () => {
        const pod = await core.readNamespacedPod({ namespace: 'default', name: 'python-client' });
        return pod.status?.containerStatuses?.[0]?.ready ? true : undefined;
      },
      20_000,
      'the web pod to be ready',
    );

    const script = join(__dirname, 'clients', 'python_client_checks.py');
    const { stdout } = await execFileAsync(
      '/usr/bin/python3',
      [script, emulator.kubeconfigPath, 'default', 'python-client', '8080'],
      { timeout: 60_000 },
    );
    const result = JSON.parse(stdout) as Record<
      string,
      { stdout: string; stderr: string; returncode: number; response: string; error: string | null }
    >;

    assert.equal(result.ok!.stdout, 'out\n');
    assert.equal(result.ok!.stderr, 'err\n');
    assert.equal(result.ok!.returncode, 0);
    assert.equal(result.failing!.stdout, 'partial\n');
    assert.equal(result.failing!.returncode, 7);
    assert.equal(result.python!.stdout, 'python-client\n', 'the pod has its own hostname');
    assert.match(result.forward!.response, /^HTTP\/1\.0 200 OK/);
    assert.match(result.forward!.response, /hello from the pod\n$/);
    assert.equal(result.forward!.error, null);

    await core.deleteNamespacedPod({ namespace: 'default', name: 'python-client' });
  });
});
