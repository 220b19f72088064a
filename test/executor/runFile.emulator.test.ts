import assert from 'node:assert/strict';
import { processCountScript } from '../support/podHelpers.ts';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  OptionError,
  PodCommandLineCodeExecutor,
  remoteToLocal,
  type PathMapping,
  type OutputChunk,
} from '../../src/core/index.ts';
import { runFileScript, taggedShell } from '../../src/core/podScripts.ts';
import { managedPodNames } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
import { scratchDir } from '../support/scratch.ts';

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
    // No extension and an interpreter Pod Runner does not know: the file runs itself.
    'runs/date=2024-01-01/report': '#!/bin/dash\necho "$#:$*|${NOTE-unset}"\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  chmodSync(join(dir, 'scripts/args.sh'), 0o755);
  chmodSync(join(dir, 'runs/date=2024-01-01/report'), 0o755);
}

describe('runFile and blocks in a synced project', () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const local = join(scratchDir('pod-runner-run-file-'), 'proj');
  let root: string;
  const inPod = async (script: string) =>
    (await executor.executeCodeBlocks([{ language: 'sh', code: script }])).output;
  const processCount = (pattern: string) => inPod(processCountScript(pattern));

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 3,
      startupTimeout: 30,
    });
    await executor.start();
    writeProject(local);
    root = (await executor.syncWorkspace(local)).root;
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
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

  test('a file that runs itself from a folder whose name holds "=" gets exactly its arguments and environment', async () => {
    const report = 'runs/date=2024-01-01/report';
    assert.deepEqual(await executor.runFile(report), {
      exitCode: 0,
      output: '0:|unset\n',
      codeFile: `${root}/${report}`,
      pathMappings: [{ local, remote: root }],
    });
    const withEnv = await executor.runFile(report, {
      args: ['A=1', '-i', '--'],
      env: { NOTE: 'x=y' },
    });
    assert.deepEqual([withEnv.exitCode, withEnv.output], [0, '3:A=1 -i --|x=y\n']);
  });

  test('the language comes from the shebang, else the extension', async () => {
    assert.equal((await executor.runFile('scripts/arrays.bash')).output, '2 y z\n');
    assert.equal((await executor.runFile('scripts/shebang.sh')).output, 'bash\n');
  });

  test('a traceback maps back to the local files', async () => {
    let announced: readonly PathMapping[] | undefined;
    const result = await executor.runFile('app/boom.py', {
      onPathMappings: (mappings) => (announced = mappings),
    });
    assert.deepEqual(announced, result.pathMappings);
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
    await assert.rejects(
      executor.runFile('app/missing.py'),
      /proj\/app\/missing\.py does not exist/,
    );
    await assert.rejects(executor.runFile('app'), /proj\/app is a folder/);
    await assert.rejects(
      executor.runFile('app/main.py', { cwd: 'elsewhere' as 'root' }),
      /must be 'root' or 'file'/,
    );
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
    assert.deepEqual(
      await executor.executeCodeBlocks([{ language: 'sh', code: 'pwd' }], { cwd: `${root}/nope` }),
      {
        exitCode: 1,
        output: `the working directory ${root}/nope does not exist in the pod`,
        pathMappings: [{ local, remote: root }],
      },
    );
    // The mappings come before the output, so streamed output maps as it arrives.
    let announced: readonly PathMapping[] | undefined;
    let streamedMapped = '';
    const selection = await executor.executeCodeBlocks(
      [{ language: 'python', code: 'x = 1\n\nraise RuntimeError("at line 3")' }],
      {
        cwd: root,
        importRoots: [root],
        source: { localFile: join(local, 'app/main.py'), startLine: 7 },
        onPathMappings: (mappings) => (announced = mappings),
        onOutput: ({ text }) => {
          assert.ok(announced, 'output arrived before its path mappings');
          streamedMapped += remoteToLocal(text, announced);
        },
      },
    );
    assert.deepEqual(announced, selection.pathMappings);
    assert.ok(streamedMapped.includes(`${join(local, 'app/main.py')}", line 9`), streamedMapped);
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

  // Last: from here on two folders are synced.
  test('with several folders synced, a relative file names its folder with root', async () => {
    const other = join(local, '..', 'other');
    mkdirSync(join(other, 'app'), { recursive: true });
    writeFileSync(join(other, 'app/main.py'), 'import os\nprint("other", os.getcwd())\n');
    const otherRoot = (await executor.syncWorkspace(other)).root;
    await assert.rejects(executor.runFile('app/main.py'), /several folders are synced/);
    const result = await executor.runFile('app/main.py', { root: other });
    assert.equal(result.output, `other ${otherRoot}\n`);
    assert.deepEqual(result.pathMappings, [
      { local, remote: root },
      { local: other, remote: otherRoot },
    ]);
    assert.equal((await executor.runFile(join(local, 'app/main.py'))).exitCode, 0);
  });

  test('another executor: keepCodeFiles keeps generated code files; maxOutputBytes caps a file run', async () => {
    const other = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podName: 'keeps-code-files',
      startupTimeout: 30,
      keepCodeFiles: true,
      maxOutputBytes: 1000,
    });
    await other.start();
    try {
      const result = await other.executeCodeBlocks([{ language: 'python', code: 'print(1)' }]);
      const listing = await other.executeCodeBlocks([{ language: 'sh', code: 'ls /workspace' }]);
      assert.ok(listing.output.split('\n').includes(result.codeFile!.slice('/workspace/'.length)));
      const flood = join(local, '..', 'flood');
      mkdirSync(flood);
      writeFileSync(join(flood, 'flood.py'), 'for i in range(100000):\n    print("line", i)\n');
      await other.syncWorkspace(flood);
      const flooded = await other.runFile('flood.py');
      assert.equal(flooded.exitCode, 0);
      assert.ok(flooded.output.startsWith('line 0\nline 1\n'));
      assert.ok(flooded.output.endsWith('line 99999\n'));
      assert.match(flooded.output, /bytes of output truncated/);
      assert.ok(flooded.output.length < 1200);
    } finally {
      await other.stop();
    }
  });
});

describe("the run-file script with busybox's tools only", () => {
  const dir = scratchDir('pod-runner-run-file-busybox-');
  /** Runs the script with busybox's applets alone on PATH. */
  const runScript = (argv: string[]) => {
    const [command, ...rest] = taggedShell(randomBytes(8).toString('hex'), runFileScript, argv);
    return spawnSync(command!, rest, { env: { PATH: join(dir, 'bin') }, encoding: 'utf8' });
  };

  before(() => {
    // Debian's busybox-static (npm test's set-up installs it); its applets as links in a folder.
    assert.ok(existsSync('/bin/busybox'), "Debian's busybox-static is installed (npm run setup)");
    mkdirSync(join(dir, 'bin'));
    copyFileSync('/bin/busybox', join(dir, 'busybox'));
    execFileSync(join(dir, 'busybox'), ['--install', '-s', join(dir, 'bin')]);
  });

  test('arguments, environment, working directory and exit code as with coreutils', () => {
    mkdirSync(join(dir, 'proj/sub'), { recursive: true });
    writeFileSync(
      join(dir, 'proj/sub/show.sh'),
      'printf "<%s>" "$@"; printf "\\n%s|%s|%s\\n" "$NOTE" "$PYTHONPATH" "$PWD"; exit 5\n',
    );
    const args = ['a b', '', 'new\nline', '$HOME', '*'];
    const note = 'x "y"\nz';
    const result = runScript([
      join(dir, 'proj/sub'),
      join(dir, 'proj'),
      '5',
      join(dir, 'proj/sub/show.sh'),
      'sh',
      String(args.length),
      ...args,
      `NOTE=${note}`,
    ]);
    assert.equal(result.stderr, '');
    assert.equal(result.status, 5);
    assert.equal(
      result.stdout,
      `${args.map((arg) => `<${arg}>`).join('')}\n${note}|${join(dir, 'proj')}|${join(dir, 'proj/sub')}\n`,
    );
  });

  test('a file whose path holds "=" runs itself, with and without environment values', () => {
    const file = join(dir, 'proj/date=2024-01-01/report');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, `#!${join(dir, 'bin/sh')}\necho "$#:$*|\${NOTE-unset}"\n`);
    chmodSync(file, 0o755);
    const run = (args: string[], assignments: string[]) =>
      runScript([dir, '', '5', file, '', String(args.length), ...args, ...assignments]);
    const plain = run([], []);
    assert.deepEqual([plain.status, plain.stdout, plain.stderr], [0, '0:|unset\n', '']);
    const assigned = run(['B=2'], ['NOTE=x=y']);
    assert.deepEqual([assigned.status, assigned.stdout, assigned.stderr], [0, '1:B=2|x=y\n', '']);
  });
});
