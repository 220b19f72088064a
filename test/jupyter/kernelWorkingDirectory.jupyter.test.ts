import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ExecutorStateError,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  remoteToLocal,
} from '../../src/core/index.ts';
import type { KernelOutputEvent } from '../../src/core/jupyterMessages.ts';
import { managedNames, requireTool, withEmulator } from '../support/emulatorFixture.ts';
import {
  jupyterServerAvailable,
  startJupyterServer,
  type RunningJupyterServer,
} from '../support/jupyterServer.ts';
import { scratchDir } from '../support/scratch.ts';

const available = jupyterServerAvailable();

/** A package at the root and a notebook folder with the data file its notebook reads. */
function writeProject(project: string): void {
  mkdirSync(join(project, 'app'), { recursive: true });
  mkdirSync(join(project, 'notebooks'));
  writeFileSync(join(project, 'app/__init__.py'), '');
  writeFileSync(
    join(project, 'app/util.py'),
    'VALUE = "from util"\n\ndef fail():\n    raise ValueError("in util")\n',
  );
  writeFileSync(join(project, 'notebooks/input.csv'), 'a,b\n');
}

const whereCode =
  'import os, app.util\nprint(os.getcwd())\nprint(open("input.csv").read().strip(), app.util.VALUE)';

/**
 * The server runs on this machine, so its kernel's files are local ones: the project folder
 * stands for the synced root in the pod.
 */
describe("the kernel's working directory and import roots", () => {
  let server: RunningJupyterServer | undefined;
  let executor: PodJupyterCodeExecutor;
  const project = join(scratchDir('pod-runner-kernel-cwd-'), 'my project');
  const notebooks = join(project, 'notebooks');
  const py = (code: string, onOutput?: (event: KernelOutputEvent) => void) =>
    executor.executeCodeBlocks([{ language: 'python', code }], onOutput ? { onOutput } : {});
  /** What a notebook next to input.csv relies on, printed by one cell. */
  const where = () => py(whereCode);

  before(async () => {
    writeProject(project);
    if (!available) {
      return;
    }
    server = await startJupyterServer();
    executor = new PodJupyterCodeExecutor(server.info, { timeout: 10 });
    await executor.start();
  });

  after(async () => {
    await executor?.stop();
    await server?.stop();
  });

  test('applies now, silently: no output, no execution count, no history, no names left', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const counts: (number | null)[] = [];
    const count = (event: KernelOutputEvent) =>
      event.type === 'execute_result' && counts.push(event.executionCount);
    await py('1', count);
    await executor.setWorkingDirectory(notebooks, { importRoots: [project] });
    const result = await where();
    assert.deepEqual(result, {
      exitCode: 0,
      output: `${notebooks}\na,b from util\n`,
      outputFiles: [],
    });
    const hidden = await py(
      // The marker is split so this cell's own text does not hold it.
      'mark = "pod_" + "runner"\n[n for n in globals() if mark in n] + [c for c in In if mark in c]',
      count,
    );
    assert.equal(hidden.output, '[]\n');
    assert.equal(counts.length, 2);
    assert.equal(counts[1], counts[0]! + 2, 'only the two visible cells between them were counted');
  });

  test('holds after restart() and after a dead kernel is replaced', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    await py('import os\nos.chdir("/")');
    await executor.restart();
    assert.equal((await where()).output, `${notebooks}\na,b from util\n`);
    const kernelBefore = executor.kernelId;
    assert.match((await py('import os\nos._exit(1)')).output, /kernel died/);
    await executor.restart();
    assert.notEqual(executor.kernelId, kernelBefore, 'the dead kernel was replaced');
    assert.equal((await where()).output, `${notebooks}\na,b from util\n`);
  });

  test('a folder the kernel cannot enter is a clear error and the previous one stays', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const missing = join(project, 'not synced');
    await assert.rejects(executor.setWorkingDirectory(missing), (error: Error) => {
      assert.ok(error instanceof ExecutorStateError);
      assert.match(
        error.message,
        /could not make .*not synced its working directory \(FileNotFoundError/,
      );
      return true;
    });
    await executor.restart();
    assert.equal((await where()).output, `${notebooks}\na,b from util\n`);
  });
});

describe("the gateway pod's kernel works in the synced notebook's folder", () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let server: PodJupyterServer;
  let executor: PodJupyterCodeExecutor;
  const project = join(scratchDir('pod-runner-kernel-sync-'), 'proj');
  const where = () => executor.executeCodeBlocks([{ language: 'python', code: whereCode }]);

  before(async () => {
    writeProject(project);
    emulator = await withEmulator({ backoffBaseMs: 200 });
    if (!available) {
      return;
    }
    server = new PodJupyterServer({ kubeconfig: emulator.kubeconfigPath, startupTimeout: 60 });
    await server.start();
    executor = new PodJupyterCodeExecutor(server, { timeout: 20 });
    await executor.start();
  });

  after(async () => {
    await executor?.stop();
    await server?.stop();
    assert.deepEqual(await managedNames(emulator, 'pods'), [], 'no pod of ours remains');
    await emulator.verifyNoLeaks();
  });

  test("after a sync, open('input.csv') and import app.util work, also after restart", async (t) => {
    if (!requireTool(t, available, "Debian's python3-jupyter-server (the gateway in the pod)")) {
      return;
    }
    const { root } = await server.syncWorkspace(project);
    await executor.setWorkingDirectory(`${root}/notebooks`, { importRoots: [root] });
    assert.equal((await where()).output, `${root}/notebooks\na,b from util\n`);
    await executor.restart();
    assert.equal((await where()).output, `${root}/notebooks\na,b from util\n`);
    const tracebacks: string[] = [];
    const failed = await executor.executeCodeBlocks(
      [{ language: 'python', code: 'import app.util\napp.util.fail()' }],
      {
        onOutput: (event) => event.type === 'error' && tracebacks.push(event.traceback.join('\n')),
      },
    );
    assert.equal(failed.exitCode, 1);
    for (const text of [failed.output, ...tracebacks]) {
      assert.ok(text.includes(`${root}/app/util.py:4`), text);
      const mapped = remoteToLocal(text, server.syncedFolders);
      assert.ok(mapped.includes(`${project}/app/util.py:4`), mapped);
      assert.ok(!mapped.includes(root), mapped);
    }
  });
});
