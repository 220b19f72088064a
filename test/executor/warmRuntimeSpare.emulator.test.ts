import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PodCommandLineCodeExecutor } from '../../src/core/index.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { eventually, managedPodNames } from '../support/emulatorFixture.ts';
import { PodClient } from '../support/podHelpers.ts';

/** The warm runtime's spare block process (src/core/warmRuntime/spareProcess.ts). */
describe(`the warm runtime's spare on ${backendName}`, () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const python = (code: string) => executor.executeCodeBlocks([{ language: 'python', code }]);
  const inPod = async (script: string) =>
    (await executor.executeCodeBlocks([{ language: 'sh', code: script }])).output;

  before(async () => {
    backend = await withBackend();
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 10,
      startupTimeout: 30,
      warmRuntime: true,
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
  });

  test('a spare block process, forked while idle, runs nothing of the workspace and takes the next block', async () => {
    // A workspace module named as the one the spare warms up with: the warm-up must not run it.
    await inPod(
      'rm -f /workspace/colorsys-ran; printf \'open("/workspace/colorsys-ran", "a").write("x")\\n\' > /workspace/colorsys.py',
    );
    const pods = new PodClient(backend);
    // Seen from an exec of its own: a block through the runtime would itself take the spare.
    const runtimeProcesses = async () => {
      const { stdout } = await pods.exec(
        executor.podName,
        [
          'sh',
          '-c',
          'for f in /proc/[0-9]*; do tr "\\0" " " 2>/dev/null < $f/cmdline | grep -q "^python[0-9.]* pod-runner-warm-runtime" && echo "${f#/proc/} $(cut -d" " -f4 $f/stat)"; done',
        ],
        { container: executor.containerName },
      );
      return stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ').map(Number) as [number, number]);
    };
    assert.equal((await python('print(1)')).output, '1\n');
    const [runtime, spareProcess] = await eventually(
      async () => {
        const found = await runtimeProcesses();
        const parent = found.find(([pid]) => found.some(([, ppid]) => ppid === pid));
        const child = found.find(([, ppid]) => ppid === parent?.[0]);
        return parent && child ? [parent[0], child[0]] : undefined;
      },
      10_000,
      'the runtime and its spare',
    );
    const block = await python('import os\nprint(os.getpid(), os.getppid())');
    assert.equal(block.output, `${spareProcess} ${runtime}\n`, 'the block ran in the spare');
    assert.equal(
      await inPod(
        'ls /workspace/colorsys-ran 2>/dev/null || echo none; rm -f /workspace/colorsys.py',
      ),
      'none\n',
      'the warm-up ran nothing of the workspace',
    );
  });
});
