import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runTests, TestRunFailedError } from '@vscode/test-electron';
import {
  emulatorControlVariable,
  serveEmulatorControl,
  type EmulatorControlServer,
} from '../support/emulatorControl.ts';
import { apiRequest, requireTool, withEmulator } from '../support/emulatorFixture.ts';
import { claimManifest } from '../support/storageObjects.ts';
import { ensureCodeServer, repoRoot } from './codeServer.ts';
import { bundleHostTests, chromiumPath } from './hostRunner.ts';

const run = promisify(execFile);
const hostAvailable = existsSync(chromiumPath) && existsSync('/usr/bin/rg');

interface HostResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

describe('the extension in a real VS Code extension host (runTests, on code-server)', () => {
  const results: HostResult[] = [];
  let planned: number | undefined;
  let exitCode: number | undefined;
  let setupError: Error | undefined;
  let emulator: Awaited<ReturnType<typeof withEmulator>> | undefined;
  let control: EmulatorControlServer | undefined;

  before(async () => {
    if (!hostAvailable) {
      return;
    }
    emulator = await withEmulator();
    // The claim the profiles feature mounts (suite/profiles.ts), as a user's cluster has it.
    const claim = await apiRequest(
      emulator,
      'POST',
      '/api/v1/namespaces/default/persistentvolumeclaims',
      {
        body: claimManifest('profile-data'),
      },
    );
    assert.equal(claim.status, 201, JSON.stringify(claim.body));
    // The in-host tests take the API server down through it (the emulator lives in this process).
    control = await serveEmulatorControl(emulator.faults);
    const scratch = await mkdtemp(join(tmpdir(), 'pod-runner-host-'));
    try {
      await ensureCodeServer((line) => process.stderr.write(`${line}\n`));
      await run('node', ['esbuild.mjs'], { cwd: repoRoot });
      const testsBundle = await bundleHostTests(
        'test/vscode/suite/index.ts',
        join(repoRoot, 'out', 'test', 'index.js'),
      );
      // The sample project (npm start's): the sync, Run File and traceback tests run it.
      const workspace = join(scratch, 'workspace');
      await cp(join(repoRoot, 'test', 'vscode', 'sample'), workspace, { recursive: true });
      await mkdir(join(workspace, '.vscode'), { recursive: true });
      await writeFile(
        join(workspace, '.vscode', 'settings.json'),
        JSON.stringify(
          // The kubeconfig is machine-scoped: the workspace's must be ignored, or nothing runs.
          {
            'podRunner.kubeconfig': join(scratch, 'kubeconfig-chosen-by-the-workspace'),
            'podRunner.timeout': 30,
          },
          null,
          2,
        ),
      );
      const unreachable = join(scratch, 'unreachable.kubeconfig');
      await writeFile(
        unreachable,
        'apiVersion: v1\nkind: Config\ncurrent-context: nowhere\nclusters:\n- name: nowhere\n  cluster: {server: "https://127.0.0.1:9"}\nusers:\n- name: u\n  user: {token: t0k3n-nowhere}\ncontexts:\n- name: nowhere\n  context: {cluster: nowhere, user: u}\n',
      );
      const resultsFile = join(scratch, 'results.jsonl');
      try {
        // VS Code's own test runner; the "VS Code" it starts is code-server (vscodeLauncher.sh).
        exitCode = await runTests({
          vscodeExecutablePath: join(repoRoot, 'test', 'vscode', 'vscodeLauncher.sh'),
          extensionDevelopmentPath: repoRoot,
          extensionTestsPath: testsBundle,
          launchArgs: [workspace],
          extensionTestsEnv: {
            POD_RUNNER_TEST_RESULTS: resultsFile,
            POD_RUNNER_UNREACHABLE_KUBECONFIG: unreachable,
            [emulatorControlVariable]: control.address,
            POD_RUNNER_MACHINE_SETTINGS: JSON.stringify({
              'podRunner.kubeconfig': emulator.kubeconfigPath,
            }),
          },
        });
      } catch (error) {
        if (!(error instanceof TestRunFailedError)) {
          throw error;
        }
        exitCode = error.code;
      }
      const lines = existsSync(resultsFile)
        ? readFileSync(resultsFile, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as HostResult | { planned: number })
        : [];
      for (const line of lines) {
        if ('planned' in line) {
          planned = line.planned;
        } else {
          results.push(line);
        }
      }
    } catch (error) {
      setupError = error as Error;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  after(async () => {
    await control?.close();
    if (emulator) {
      const pods = (
        await apiRequest(
          emulator,
          'GET',
          '/api/v1/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dpod-runner',
        )
      ).body as { items: unknown[] };
      assert.equal(pods.items.length, 0, 'no pod remains after the extension host run');
      await emulator.verifyNoLeaks();
    }
  });

  test('the extension host ran every test and they passed', (t) => {
    if (!requireTool(t, hostAvailable, 'Debian chromium and ripgrep (for code-server)')) {
      return;
    }
    assert.equal(setupError, undefined, setupError?.stack);
    for (const result of results) {
      process.stdout.write(
        `  ${result.ok ? 'ok' : 'FAILED'} (host) ${result.name} (${result.ms} ms)\n${result.error ? `${result.error}\n` : ''}`,
      );
    }
    assert.ok(planned, `the host planned no tests (exit code ${String(exitCode)})`);
    assert.equal(
      results.length,
      planned,
      `the host reported ${results.length} of ${planned} results (exit code ${String(exitCode)})`,
    );
    assert.deepEqual(
      results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error ?? ''}`),
      [],
    );
    assert.equal(exitCode, 0);
  });
});
