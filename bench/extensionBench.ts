import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, startCodeServer } from '../test/vscode/codeServer.ts';
import { chromiumPath, runTestsInHost } from '../test/vscode/hostRunner.ts';
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
  const payload = join(repoRoot, 'out', 'bench', 'activation.js');
  await run(
    'npx',
    [
      'esbuild',
      'bench/host/activation.ts',
      '--bundle',
      '--platform=node',
      '--format=cjs',
      '--target=node20',
      '--external:vscode',
      `--outfile=${payload}`,
    ],
    { cwd: repoRoot },
  );
  const scratch = await mkdtemp(join(tmpdir(), 'pod-runner-bench-host-'));
  const activations: number[] = [];
  try {
    for (let index = 0; index < (options.quick ? 1 : 5); index++) {
      const workspace = join(scratch, `workspace-${index}`);
      await mkdir(workspace, { recursive: true });
      const resultFile = join(scratch, `result-${index}.jsonl`);
      const server = await startCodeServer({
        workspace,
        env: { POD_RUNNER_BENCH_RESULT: resultFile },
      });
      try {
        const code = await runTestsInHost(server, {
          workspace,
          extensionPath: repoRoot,
          testsPath: payload,
          timeoutMs: 120_000,
        });
        if (code !== 0) {
          throw new Error(`the activation payload exited with ${code}`);
        }
      } finally {
        await server.stop();
      }
      const result = JSON.parse(await readFile(resultFile, 'utf8')) as {
        wasActive: boolean;
        activationMs: number;
      };
      if (result.wasActive) {
        throw new Error('the extension was active before the payload: activation is not lazy');
      }
      activations.push(result.activationMs);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  options.raw.P5 = { activations, vsixBytes, bundleBytes };
  const activation = median(activations);
  return [
    {
      id: 'P5',
      what: 'extension activation (code-server host, minified bundle)',
      ours: ms(activation),
      peer: '—',
      target: '< 50 ms',
      met: activation < 50,
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
      what: '`dist/extension.js` (minified bundle)',
      ours: `${(bundleBytes / 1024).toFixed(0)} KB`,
      peer: '—',
      target: '—',
    },
  ];
}
