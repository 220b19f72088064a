import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, startCodeServer } from '../test/vscode/codeServer.ts';
import { bundleHostTests, chromiumPath, runTestsInHost } from '../test/vscode/hostRunner.ts';
import type { BenchRow } from './report.ts';
import { median, ms } from './stats.ts';

const run = promisify(execFile);

/** P5: activation time in code-server's extension host, the VSIX size and the bundle size. */
export async function extensionBench(options: {
  quick: boolean;
  raw: Record<string, unknown>;
}): Promise<BenchRow[]> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`P5 needs Debian chromium at ${chromiumPath} (apt-get install chromium)`);
  }
  await run('npm', ['run', 'package', '--silent'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  const vsixBytes = (await stat(join(repoRoot, 'pod-runner.vsix'))).size;
  const bundleBytes = (await stat(join(repoRoot, 'dist', 'extension.js'))).size;
  const coreBytes = (await stat(join(repoRoot, 'dist', 'core.js'))).size;
  const payload = await bundleHostTests(
    'bench/host/activation.ts',
    join(repoRoot, 'out', 'bench', 'activation.js'),
  );
  const scratch = await mkdtemp(join(tmpdir(), 'pod-runner-bench-host-'));
  // An installed extension (its folder in the extensions directory), beside ours in development.
  // The first activation in a host pays a one-time cost: a warm-up extension takes it.
  const extensionsDir = join(scratch, 'extensions');
  for (const name of ['warmup-extension', 'empty-extension']) {
    const folder = join(extensionsDir, `bench.${name}-0.0.1`);
    await mkdir(folder, { recursive: true });
    await writeFile(
      join(folder, 'package.json'),
      JSON.stringify({
        name,
        publisher: 'bench',
        version: '0.0.1',
        engines: { vscode: '^1.100.0' },
        main: './extension.js',
      }),
    );
    await writeFile(
      join(folder, 'extension.js'),
      'exports.activate = () => undefined;\nexports.deactivate = () => undefined;\n',
    );
  }
  // Pod Runner also activates once the window's start-up has finished (to show pods a last window
  // kept), off the start-up path; to time activation the payload must be the one that causes it,
  // so the extension is loaded from a folder whose manifest leaves that event out.
  const extensionPath = join(scratch, 'pod-runner');
  await mkdir(extensionPath);
  const manifest = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
    activationEvents: string[];
  };
  manifest.activationEvents = manifest.activationEvents.filter(
    (event) => event !== 'onStartupFinished',
  );
  await writeFile(join(extensionPath, 'package.json'), JSON.stringify(manifest));
  for (const folder of ['dist', 'node_modules', 'media']) {
    await symlink(join(repoRoot, folder), join(extensionPath, folder));
  }
  const activations: number[] = [];
  const emptyActivations: number[] = [];
  try {
    for (let index = 0; index < (options.quick ? 1 : 5); index++) {
      const workspace = join(scratch, `workspace-${index}`);
      await mkdir(workspace, { recursive: true });
      const resultFile = join(scratch, `result-${index}.jsonl`);
      const server = await startCodeServer({
        workspace,
        env: { POD_RUNNER_BENCH_RESULT: resultFile },
        extensionsDir,
      });
      try {
        const code = await runTestsInHost(server, {
          workspace,
          extensionPath,
          testsPath: payload,
          timeoutMs: 120_000,
        });
        if (code !== 0) {
          throw new Error(`the activation payload exited with ${code}`);
        }
      } finally {
        await server.stop();
      }
      type Timing = { wasActive: boolean; ms: number };
      const result = JSON.parse(await readFile(resultFile, 'utf8')) as {
        empty: Timing;
        ours: Timing;
      };
      if (result.ours.wasActive) {
        throw new Error('the extension was active before the payload: activation is not lazy');
      }
      activations.push(result.ours.ms);
      emptyActivations.push(result.empty.ms);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  options.raw.P5 = { activations, emptyActivations, vsixBytes, coreBytes, bundleBytes };
  const activation = median(activations);
  const empty = median(emptyActivations);
  const own = median(activations.map((value, index) => value - emptyActivations[index]!));
  return [
    {
      id: 'P5',
      what: "extension activation (code-server host), beyond an empty extension's",
      ours: `${ms(own)} (${ms(activation)} in all)`,
      peer: `empty extension: ${ms(empty)}`,
      ratio: activation / empty,
      target: '< 50 ms',
      met: own < 50,
    },
    {
      id: 'P5',
      what: 'VSIX size',
      ours: `${(vsixBytes / 1024).toFixed(0)} KB`,
      peer: '—',
      target: '< 2 MB',
      met: vsixBytes < 2 * 2 ** 20,
    },
    {
      id: '—',
      what: 'minified bundles: `dist/extension.js` (loaded on activation) + `dist/core.js` (on first use)',
      ours: `${(bundleBytes / 1024).toFixed(0)} KB + ${(coreBytes / 1024).toFixed(0)} KB`,
      peer: '—',
      target: '—',
    },
  ];
}
