import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PodCommandLineCodeExecutor } from '../../src/core/index.ts';
import {
  blockTagVariable,
  killBlockScript,
  runBlockScript,
  taggedShell,
} from '../../src/core/podScripts.ts';
import { managedPodNames, withEmulator } from '../support/emulatorFixture.ts';

/** Pids of the host's processes whose NUL-separated `file` in /proc has `record`. */
function pidsWith(file: 'environ' | 'cmdline', record: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/${file}`, 'latin1').split('\0').includes(record);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const taggedPids = (tag: string) => pidsWith('environ', `${blockTagVariable}=${tag}`);

/**
 * The block scripts as an Alpine image runs them: busybox's sh, grep, timeout, mv... and nothing
 * else on PATH. Busybox comes from the distribution's package (no system install); the variable
 * sits after others in every environ, where a grep that stops at the first NUL never sees it.
 */
let dir: string;
let busyboxPath: string;

before(() => {
  // Debian's busybox-static (npm test's set-up installs it); its applets as links in a folder.
  assert.ok(existsSync('/bin/busybox'), "Debian's busybox-static is installed (npm run setup)");
  dir = mkdtempSync(join(tmpdir(), 'pod-runner-busybox-'));
  mkdirSync(join(dir, 'root/bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'root/bin/busybox'));
  busyboxPath = join(dir, 'bin');
  mkdirSync(busyboxPath);
  execFileSync(join(dir, 'root/bin/busybox'), ['--install', '-s', busyboxPath]);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('a TERM that arrives while the block script cleans up does not keep it from removing the code file', () => {
  const workspace = mkdtempSync(join(dir, 'workspace-'));
  const shims = mkdtempSync(join(dir, 'shims-'));
  // An rm that signals the script first, as the kill's TERMs (every 0.1 s) can during a clean-up.
  writeFileSync(join(shims, 'rm'), '#!/bin/sh\nkill -TERM "$PPID"\nexec /bin/rm "$@"\n', {
    mode: 0o755,
  });
  const code = 'exit 3';
  const [program, ...args] = taggedShell(randomBytes(8).toString('hex'), runBlockScript, [
    String(code.length),
    workspace,
    'tmp_code_cleanup.sh',
    '10',
    '',
    '',
    '1',
    'sh',
  ]);
  const run = spawnSync(program!, args, {
    input: code,
    env: { PATH: `${shims}:/usr/bin:/bin` },
    encoding: 'utf8',
  });
  assert.equal(run.status, 3, run.stderr);
  assert.deepEqual(readdirSync(workspace), []);
});

describe('the block scripts with busybox tools only', () => {
  const tags: string[] = [];

  after(() => {
    for (const pid of [...tags.flatMap(taggedPids), ...untaggedSleeps()]) {
      process.kill(pid, 'SIGKILL');
    }
  });

  /** Sleeps started by their full path: only the test that drops the tag does that. */
  const untaggedSleeps = () => pidsWith('cmdline', join(busyboxPath, 'sleep'));

  /** Starts a block of sh code; resolves with its exit code, stdout and run time once it ends. */
  function startBlock(code: string, timeoutSeconds: number) {
    const tag = randomBytes(8).toString('hex');
    tags.push(tag);
    const [command, ...args] = taggedShell(tag, runBlockScript, [
      String(Buffer.byteLength(code)),
      join(dir, 'workspace'),
      'block.sh',
      String(timeoutSeconds),
      '',
      '',
      '0',
      'sh',
    ]);
    const started = Date.now();
    const child = spawn(command as string, args, { env: { HOME: dir, PATH: busyboxPath } });
    child.stdin.end(code);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const ended = new Promise<{ exitCode: number | null; stdout: string; ms: number }>((resolve) =>
      child.on('close', (exitCode) => resolve({ exitCode, stdout, ms: Date.now() - started })),
    );
    const printed = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => stdout.includes(text) && resolve();
        child.stdout.on('data', check);
        check();
      });
    return { tag, ended, printed };
  }

  test(
    'a block that leaves a setsid daemon ends at once, and the daemon is killed',
    { timeout: 20_000 },
    async () => {
      const block = startBlock('setsid sleep 311 & echo started; exit 4', 60);
      const result = await block.ended;
      assert.equal(result.exitCode, 4);
      assert.equal(result.stdout, 'started\n');
      assert.ok(result.ms < 5_000, `took ${result.ms} ms`);
      assert.deepEqual(taggedPids(block.tag), []);
    },
  );

  test(
    'a process that dropped the tag ends with the block (busybox timeout makes no process group)',
    { timeout: 20_000 },
    async () => {
      const block = startBlock(`env -i ${busyboxPath}/sleep 315 & echo started; exit 0`, 60);
      const result = await block.ended;
      assert.equal(result.exitCode, 0);
      assert.equal(result.stdout, 'started\n');
      assert.ok(result.ms < 5_000, `took ${result.ms} ms`);
      assert.deepEqual(untaggedSleeps(), []);
    },
  );

  test(
    'the kill script ends a running block and its setsid daemon',
    { timeout: 20_000 },
    async () => {
      const block = startBlock('setsid sleep 312 & echo begun; sleep 313', 60);
      await block.printed('begun');
      execFileSync('sh', ['-c', killBlockScript, 'pod-runner-kill', block.tag], {
        env: { PATH: busyboxPath },
      });
      const result = await block.ended;
      assert.equal(result.stdout, 'begun\n');
      assert.ok(result.ms < 10_000, `took ${result.ms} ms`);
      assert.deepEqual(taggedPids(block.tag), []);
    },
  );
});

describe('an executor pod whose image has busybox tools only', () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let executor: PodCommandLineCodeExecutor;
  const run = (code: string) => executor.executeCodeBlocks([{ language: 'sh', code }]);

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
    // busybox's applets link to it by its path here, so the pod sees it at the same path.
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      timeout: 2,
      startupTimeout: 30,
      podSpec: {
        spec: {
          containers: [
            {
              name: 'autogen-executor',
              image: 'python:3-slim',
              env: [{ name: 'PATH', value: busyboxPath }],
              volumeMounts: [{ name: 'busybox', mountPath: dir, readOnly: true }],
            },
          ],
          volumes: [{ name: 'busybox', hostPath: { path: dir } }],
        },
      },
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(emulator), [], 'no pod of ours is left behind');
    await emulator.verifyNoLeaks();
  });

  test('the blocks run with busybox tools', async () => {
    const result = await run('for tool in timeout grep mv; do $tool --help 2>&1 | head -n 1; done');
    assert.match(result.output, /^(BusyBox v1\.[\d.]+ .*\n){3}$/);
  });

  test('a block past its timeout is exit code 124 "Timeout" (busybox timeout ends it by SIGTERM)', async () => {
    const result = await run('echo begun; sleep 316');
    assert.equal(result.exitCode, 124);
    assert.equal(result.output, 'begun\n\n Timeout');
  });

  test('a process that dropped the tag ends with the block', async () => {
    const started = Date.now();
    const result = await run(`env -i ${busyboxPath}/sleep 317 & echo started; exit 0`);
    assert.equal(result.exitCode, 0);
    assert.equal(result.output, 'started\n');
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms (timeout 2 s)`);
    assert.equal((await run('ps -o args | grep -c "[s]leep 31[67]" || true')).output, '0\n');
  });
});
