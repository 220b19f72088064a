import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ExecutorStateError,
  jupyterApiUrl,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  remoteToLocal,
} from '../../src/core/index.ts';
import type { KernelOutputEvent } from '../../src/core/jupyterMessages.ts';
import { managedNames, requireTool } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
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

  test('set before start(), it applies to the kernel start() creates', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const early = new PodJupyterCodeExecutor(server!.info, { timeout: 10 });
    try {
      await early.setWorkingDirectory(notebooks, { importRoots: [project] });
      await early.start();
      const result = await early.executeCodeBlocks([{ language: 'python', code: whereCode }]);
      assert.equal(result.output, `${notebooks}\na,b from util\n`);
    } finally {
      await early.stop();
    }
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

describe("the kernel's working directory through restarts, busy kernels and failed starts", () => {
  let server: RunningJupyterServer | undefined;
  const project = join(scratchDir('pod-runner-kernel-cwd-edges-'), 'proj');
  const notebooks = join(project, 'notebooks');
  const cwdOf = async (executor: PodJupyterCodeExecutor) =>
    (
      await executor.executeCodeBlocks([
        { language: 'python', code: 'import os\nprint(os.getcwd())' },
      ])
    ).output;
  const kernelIds = async () => {
    const response = await fetch(jupyterApiUrl(server!.info, '/api/kernels'), {
      headers: { Authorization: `token ${server!.info.token}` },
    });
    return ((await response.json()) as { id: string }[]).map((kernel) => kernel.id).sort();
  };

  before(async () => {
    writeProject(project);
    if (available) {
      server = await startJupyterServer();
    }
  });

  after(async () => {
    await server?.stop();
  });

  test('a kernel the server restarted by itself (it died) runs the next cell in the directory again', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const executor = new PodJupyterCodeExecutor(server!.info, { timeout: 20 });
    await executor.start();
    try {
      await executor.setWorkingDirectory(notebooks);
      const kernel = executor.kernelId;
      const died = await executor.executeCodeBlocks([
        { language: 'python', code: 'import os\nos._exit(1)' },
      ]);
      assert.match(died.output, /kernel died \(status: restarting\)/);
      assert.equal(await cwdOf(executor), `${notebooks}\n`);
      assert.equal(executor.kernelId, kernel, 'the same kernel, restarted by the server');
    } finally {
      await executor.stop();
    }
  });

  test('a change asked for while a cell runs waits behind it with no deadline of its own, and is kept', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const timeoutSeconds = 1;
    const executor = new PodJupyterCodeExecutor(server!.info, { timeout: timeoutSeconds });
    const release = join(project, 'release-the-cell');
    await executor.start();
    try {
      await executor.setWorkingDirectory(notebooks);
      // Runs until the test releases it, past its own timeout's interrupt.
      const code = [
        'import os, time',
        'print("running", flush=True)',
        `while not os.path.exists(${JSON.stringify(release)}):`,
        '    try:',
        '        time.sleep(0.05)',
        '    except KeyboardInterrupt:',
        '        pass',
        'print(os.getcwd())',
      ].join('\n');
      let running!: () => void;
      const started = new Promise<void>((resolve) => (running = resolve));
      const cell = executor.executeCodeBlocks([{ language: 'python', code }], {
        onOutput: (event) => event.type === 'stream' && event.text.includes('running') && running(),
      });
      await started;
      const change = executor.setWorkingDirectory(project);
      // Released only after a deadline of the block timeout would have passed.
      const releaseTimer = setTimeout(
        () => writeFileSync(release, ''),
        timeoutSeconds * 1000 + 1000,
      );
      try {
        await change;
      } finally {
        clearTimeout(releaseTimer);
      }
      assert.ok(existsSync(release), 'the change waited for the cell');
      assert.equal((await cell).output, `running\n${notebooks}\n\n Timeout`);
      assert.equal(await cwdOf(executor), `${project}\n`);
      await executor.restart();
      assert.equal(await cwdOf(executor), `${project}\n`);
    } finally {
      await executor.stop();
    }
  });

  test('a change asked for during restart() follows it', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const executor = new PodJupyterCodeExecutor(server!.info, { timeout: 20 });
    await executor.start();
    try {
      await executor.setWorkingDirectory(notebooks);
      await Promise.all([executor.restart(), executor.setWorkingDirectory(project)]);
      assert.equal(await cwdOf(executor), `${project}\n`);
      await executor.restart();
      assert.equal(await cwdOf(executor), `${project}\n`);
    } finally {
      await executor.stop();
    }
  });

  test('start() that cannot enter the directory deletes its kernel; a later start() begins afresh', async (t) => {
    if (!requireTool(t, available, 'Jupyter Server')) {
      return;
    }
    const executor = new PodJupyterCodeExecutor(server!.info, { timeout: 20 });
    try {
      const kernelsBefore = await kernelIds();
      await executor.setWorkingDirectory(join(project, 'not synced'));
      await assert.rejects(executor.start(), (error: Error) => {
        assert.ok(error instanceof ExecutorStateError);
        assert.match(error.message, /could not make .*not synced its working directory/);
        return true;
      });
      assert.equal(executor.kernelId, undefined);
      assert.deepEqual(await kernelIds(), kernelsBefore, 'the kernel it started is deleted');
      await assert.rejects(executor.start(), ExecutorStateError, 'it tries again, cleanly');
      assert.deepEqual(await kernelIds(), kernelsBefore);
      await executor.setWorkingDirectory(notebooks);
      await executor.start();
      assert.equal(await cwdOf(executor), `${notebooks}\n`);
      await executor.restart();
      assert.equal(await cwdOf(executor), `${notebooks}\n`);
    } finally {
      await executor.stop();
    }
  });
});

describe("the gateway pod's kernel works in the synced notebook's folder", () => {
  let backend: TestBackend;
  let server: PodJupyterServer;
  let executor: PodJupyterCodeExecutor;
  const project = join(scratchDir('pod-runner-kernel-sync-'), 'proj');
  const where = () => executor.executeCodeBlocks([{ language: 'python', code: whereCode }]);

  before(async () => {
    writeProject(project);
    backend = await withBackend({ backoffBaseMs: 200 });
    if (!available) {
      return;
    }
    server = new PodJupyterServer({ kubeconfig: backend.kubeconfigPath, startupTimeout: 60 });
    await server.start();
    // Generous: on a loaded machine the gateway's first kernel can take a while to answer.
    executor = new PodJupyterCodeExecutor(server, { timeout: 60 });
    await executor.start();
  });

  after(async () => {
    await executor?.stop();
    await server?.stop();
    assert.deepEqual(await managedNames(backend, 'pods'), [], 'no pod of ours remains');
    await backend.verifyNoLeaks();
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
