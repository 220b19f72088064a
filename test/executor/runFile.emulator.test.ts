import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  OptionError,
  PodCommandLineCodeExecutor,
  remoteToLocal,
  type OutputChunk,
} from '../../src/core/index.ts';
import { managedPodNames, withEmulator } from '../support/emulatorFixture.ts';
import { scratchDir } from '../support/scratch.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** A small project: a package, a data file, scripts that use them. */
function writeProject(dir: string): void {
  const files: Record<string, string> = {
    'app/__init__.py': '',
    'app/util.py': [
      'def parse(text):',
      '    return [int(x) for x in text.strip().split(",")]',
      '',
      'def explode():',
      '    raise ValueError("from util")',
      '',
    ].join('\n'),
    'app/main.py': [
      'import json, os, sys',
      'from app.util import parse',
      'with open("data/input.csv") as f:',
      '    print(sum(parse(f.read())))',
      'print(os.getcwd())',
      'print(json.dumps(sys.argv[1:]))',
      'print(json.dumps(os.environ.get("RUN_NOTE")))',
      'sys.exit(int(os.environ.get("EXIT_WITH", "0")))',
      '',
    ].join('\n'),
    'app/boom.py': 'from app.util import explode\nexplode()\n',
    'app/sleeper.py':
      'import subprocess, time\nsubprocess.Popen(["setsid", "sleep", "341"])\nprint("started", flush=True)\ntime.sleep(342)\n',
    'data/input.csv': '1,2,3,4\n',
    'scripts/args.sh': 'printf "[%s]" "$#" "$@"; echo; pwd\n',
    'scripts/list.sh': 'ls -A "$1"\n',
    'scripts/arrays.bash': 'a=(x "y z"); echo "${#a[@]} ${a[1]}"\n',
    'scripts/shebang.sh': '#!/usr/bin/env bash\necho "${BASH_VERSION:+bash}"\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  chmodSync(join(dir, 'scripts/args.sh'), 0o755);
}

describe('runFile and blocks in a synced project', () => {
  let emulator: Emulator;
  let executor: PodCommandLineCodeExecutor;
  const local = join(scratchDir('pod-runner-run-file-'), 'proj');
  let root: string;
  const inPod = async (script: string) =>
    (await executor.executeCodeBlocks([{ language: 'sh', code: script }])).output;
  const processCount = (pattern: string) => inPod(`ps -eo args | grep -c "${pattern}" || true`);

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      timeout: 3,
      startupTimeout: 30,
    });
    await executor.start();
    writeProject(local);
    root = (await executor.syncWorkspace(local)).root;
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours is left behind');
    await emulator.verifyNoLeaks();
  });

  test('a script runs in place from the root: its package imports, its data path resolves', async () => {
    const result = await executor.runFile('app/main.py');
    assert.deepEqual(result, {
      exitCode: 0,
      output: `10\n${root}\n[]\nnull\n`,
      codeFile: `${root}/app/main.py`,
      pathMappings: [{ local, remote: root }],
    });
    const absolute = await executor.runFile(join(local, 'app/main.py'), { cwd: 'file' });
    assert.equal(absolute.exitCode, 1, 'from app/, data/input.csv is not there');
    assert.match(absolute.output, /FileNotFoundError: .*'data\/input\.csv'/);
    const fromFile = await executor.runFile('scripts/args.sh', { cwd: 'file' });
    assert.equal(fromFile.output, `[0]\n${root}/scripts\n`);
  });

  test('arguments and environment values arrive byte-exact, never through a shell', async () => {
    const args = ['a b', `it's "quoted"`, 'new\nline', '$HOME `id` $(id)', '*', '', '-c', 'ü 🙂'];
    const note = 'spaces  and "quotes"\nand a newline; $(rm -rf /)';
    const result = await executor.runFile('app/main.py', {
      args,
      env: { RUN_NOTE: note, EXIT_WITH: '7' },
    });
    assert.equal(result.exitCode, 7);
    const [sum, cwd, argv, received] = result.output.split('\n');
    assert.deepEqual([sum, cwd], ['10', root]);
    assert.deepEqual(JSON.parse(argv!), args);
    assert.equal(JSON.parse(received!), note);
    const shell = await executor.runFile('scripts/args.sh', { args: ['one two', ''] });
    assert.equal(shell.output, `[2][one two][]\n${root}\n`);
    await assert.rejects(
      executor.runFile('app/main.py', { env: { 'BAD NAME': 'x' } }),
      OptionError,
    );
  });

  test('the language comes from the shebang, else the extension', async () => {
    assert.equal((await executor.runFile('scripts/arrays.bash')).output, '2 y z\n');
    assert.equal((await executor.runFile('scripts/shebang.sh')).output, 'bash\n');
  });

  test('a traceback maps back to the local files', async () => {
    const result = await executor.runFile('app/boom.py');
    assert.equal(result.exitCode, 1);
    assert.match(result.output, new RegExp(`File "${root}/app/util.py", line 5, in explode`));
    const mapped = remoteToLocal(result.output, result.pathMappings);
    assert.ok(mapped.includes(`File "${local}/app/boom.py", line 2, in <module>`), mapped);
    assert.ok(mapped.includes(`File "${local}/app/util.py", line 5, in explode`), mapped);
    assert.ok(!mapped.includes(root), mapped);
  });

  test('files that are not synced, or not in a synced folder, are clear errors naming them', async () => {
    writeFileSync(join(local, 'app/new.py'), 'print("new")\n');
    const unsynced = await executor.runFile('app/new.py');
    assert.equal(unsynced.exitCode, 1);
    assert.match(unsynced.output, new RegExp(`${join(local, 'app/new.py')} is not in the pod`));
    await assert.rejects(
      executor.runFile('/elsewhere/x.py'),
      /\/elsewhere\/x\.py is not in a folder synced/,
    );
    await assert.rejects(executor.runFile('../outside.py'), /is not in a folder synced/);
    await assert.rejects(executor.runFile('app/main.py', { root: '/elsewhere' }), OptionError);
  });

  test('a timeout ends the file with 124 and kills what it started', async () => {
    const started = Date.now();
    const result = await executor.runFile('app/sleeper.py');
    assert.equal(result.exitCode, 124);
    assert.match(result.output, /^started\n[\s\S]*Timeout$/);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(await processCount('[s]leep 34[12]'), '0\n');
  });

  test('cancel kills everything the file started and returns the output so far', async () => {
    const controller = new AbortController();
    let printed = '';
    const result = await executor.runFile('app/sleeper.py', {
      signal: controller.signal,
      onOutput: (chunk: OutputChunk) => {
        printed += chunk.text;
        if (printed === 'started\n') {
          controller.abort();
        }
      },
    });
    assert.equal(result.exitCode, 1);
    assert.equal(result.output, 'started\nCode execution was cancelled.');
    assert.equal(await processCount('[s]leep 34[12]'), '0\n');
  });

  test('blocks run in the project with its root importable; a selection maps to its editor lines', async () => {
    const block = await executor.executeCodeBlocks(
      [
        {
          language: 'python',
          code: 'from app.util import parse\nprint(parse(open("data/input.csv").read()))',
        },
      ],
      { cwd: root, importRoots: [root] },
    );
    assert.equal(block.output, '[1, 2, 3, 4]\n');
    const selection = await executor.executeCodeBlocks(
      [{ language: 'python', code: 'x = 1\n\nraise RuntimeError("at line 3")' }],
      {
        cwd: root,
        importRoots: [root],
        source: { localFile: join(local, 'app/main.py'), startLine: 7 },
      },
    );
    assert.equal(selection.exitCode, 1);
    assert.match(selection.output, /File "\/workspace\/tmp_code_[0-9a-f]{64}\.py", line 3/);
    const mapped = remoteToLocal(selection.output, selection.pathMappings);
    assert.ok(mapped.includes(`File "${join(local, 'app/main.py')}", line 9, in <module>`), mapped);
  });

  test('generated code files are gone after every block (normal, failed, timeout, cancel); named ones stay', async () => {
    await executor.executeCodeBlocks([{ language: 'python', code: 'print(1)' }]);
    await executor.executeCodeBlocks([{ language: 'sh', code: 'exit 3' }]);
    assert.equal(
      (await executor.executeCodeBlocks([{ language: 'sh', code: 'sleep 30' }])).exitCode,
      124,
    );
    const controller = new AbortController();
    const cancelled = await executor.executeCodeBlocks(
      [{ language: 'sh', code: 'echo begun; sleep 31' }],
      { signal: controller.signal, onOutput: () => controller.abort() },
    );
    assert.equal(cancelled.output, 'begun\nCode execution was cancelled.');
    await executor.executeCodeBlocks([
      { language: 'python', code: '# filename: kept.py\nprint(2)' },
    ]);
    // Listed by a synced script: a block would list its own code file.
    const listing = (await executor.runFile('scripts/list.sh', { args: ['/workspace'] })).output;
    assert.ok(listing.split('\n').includes('kept.py'), listing);
    assert.ok(!listing.includes('tmp_code_'), listing);
  });

  test('keepCodeFiles keeps the generated code files in the workspace', async () => {
    const keeping = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      podName: 'keeps-code-files',
      startupTimeout: 30,
      keepCodeFiles: true,
    });
    await keeping.start();
    try {
      const result = await keeping.executeCodeBlocks([{ language: 'python', code: 'print(1)' }]);
      const listing = await keeping.executeCodeBlocks([{ language: 'sh', code: 'ls /workspace' }]);
      assert.ok(listing.output.split('\n').includes(result.codeFile!.slice('/workspace/'.length)));
    } finally {
      await keeping.stop();
    }
  });
});
