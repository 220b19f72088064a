import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiRequest, withEmulator } from '../support/emulatorFixture.ts';
import { PodClient } from '../support/podHelpers.ts';
import { scratchDir } from '../support/scratch.ts';

const image = 'registry.local/with-files';

describe("an image's own files (the kernel gateway image's environment is one)", () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let pods: PodClient;
  const files = scratchDir('pod-runner-image-files-');
  let pulls = 0;

  before(async () => {
    writeFileSync(join(files, 'hello'), 'from the image\n');
    emulator = await withEmulator({
      backoffBaseMs: 200,
      images: {
        images: {
          [image]: {
            contents: {
              directories: [files],
              // The first pull fails, as a registry outage would; the kubelet tries again.
              pull: () =>
                ++pulls === 1
                  ? Promise.reject(new Error('the files could not be fetched'))
                  : Promise.resolve(),
            },
          },
        },
      },
    });
    pods = new PodClient(emulator);
  });

  after(async () => {
    await emulator.verifyNoLeaks();
  });

  test('a failed pull is ErrImagePull with its reason, retried; then the container sees the files read-only', async () => {
    await pods.create({
      metadata: { name: 'files' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image,
            command: [
              'sh',
              '-c',
              `cat ${files}/hello; touch ${files}/new 2>/dev/null || echo read-only`,
            ],
          },
        ],
      },
    });
    await pods.waitFor('files', (pod) => pod.status?.phase === 'Succeeded', 'Succeeded');
    const events = await pods.events('files');
    assert.ok(
      events.some(
        (e) =>
          e.reason === 'Failed' &&
          e.message === `Failed to pull image "${image}": the files could not be fetched`,
      ),
      JSON.stringify(events.map((e) => e.message)),
    );
    assert.equal(pulls, 2);
    const log = await apiRequest(emulator, 'GET', '/api/v1/namespaces/default/pods/files/log');
    assert.equal(log.text, 'from the image\nread-only\n');
    await pods.delete('files');
    await pods.waitGone('files');
  });
});
