import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PodCommandLineCodeExecutor, PodJupyterCodeExecutor } from '../../src/core/index.ts';
import { requireTool } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
import {
  jupyterServerAvailable,
  startJupyterServer,
  type RunningJupyterServer,
} from '../support/jupyterServer.ts';

const openDescriptors = () => readdirSync('/proc/self/fd').length;
const rssMb = () => process.memoryUsage.rss() / 2 ** 20;

/**
 * Measures file descriptors and RSS after a warm-up and at the end of a long run: a leak of one
 * socket per call would show as hundreds of descriptors.
 */
/** A full garbage collection, whatever flags the test process was started with. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function soak(
  label: string,
  iterations: number,
  step: (index: number) => Promise<void>,
): Promise<{ fdGrowth: number; rssGrowthMb: number }> {
  const warmup = Math.min(50, Math.floor(iterations / 10));
  for (let index = 0; index < warmup; index++) {
    await step(index);
  }
  collectGarbage();
  const fdBefore = openDescriptors();
  const rssBefore = rssMb();
  for (let index = warmup; index < iterations; index++) {
    await step(index);
  }
  await new Promise((done) => setTimeout(done, 200));
  collectGarbage();
  const fdGrowth = openDescriptors() - fdBefore;
  const rssGrowthMb = rssMb() - rssBefore;
  process.stdout.write(
    `# soak ${label}: ${iterations} calls, descriptors ${fdBefore} → ${fdBefore + fdGrowth}, RSS ${rssBefore.toFixed(1)} → ${(rssBefore + rssGrowthMb).toFixed(1)} MB\n`,
  );
  return { fdGrowth, rssGrowthMb };
}

describe('soak: long runs on one executor and one kernel leak no sockets, descriptors or memory', () => {
  let backend: TestBackend;
  let jupyter: RunningJupyterServer | undefined;

  before(async () => {
    backend = await withBackend();
    if (jupyterServerAvailable()) {
      jupyter = await startJupyterServer();
    }
  });

  after(async () => {
    await jupyter?.stop();
    await backend.verifyNoLeaks();
  });

  test('500 sequential blocks on one executor', async () => {
    const executor = new PodCommandLineCodeExecutor({ kubeconfig: backend.kubeconfigPath });
    await executor.start();
    try {
      const { fdGrowth, rssGrowthMb } = await soak('executor', 500, async (index) => {
        const result = await executor.executeCodeBlocks([
          {
            language: index % 2 ? 'python' : 'sh',
            code: index % 2 ? `print(${index})` : `echo ${index}`,
          },
        ]);
        assert.equal(result.output, `${index}\n`, `block ${index} ended with ${result.exitCode}`);
      });
      assert.ok(fdGrowth <= 5, `descriptors grew by ${fdGrowth}`);
      assert.ok(rssGrowthMb < 60, `RSS grew by ${rssGrowthMb.toFixed(1)} MB`);
    } finally {
      await executor.stop();
    }
  });

  test('200 notebook cells on one kernel (Jupyter Server)', async (t) => {
    if (
      !requireTool(
        t,
        jupyter !== undefined,
        "Debian's python3-jupyter-server and python3-ipykernel",
      )
    ) {
      return;
    }
    const kernel = new PodJupyterCodeExecutor(jupyter!.info, { timeout: 30 });
    await kernel.start();
    try {
      const { fdGrowth, rssGrowthMb } = await soak('kernel', 200, async (index) => {
        const result = await kernel.executeCodeBlocks([
          { language: 'python', code: `${index} * 2` },
        ]);
        assert.equal(result.output.trim(), String(index * 2));
      });
      assert.ok(fdGrowth <= 5, `descriptors grew by ${fdGrowth}`);
      assert.ok(rssGrowthMb < 60, `RSS grew by ${rssGrowthMb.toFixed(1)} MB`);
    } finally {
      await kernel.stop();
    }
  });
});
