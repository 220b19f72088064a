import { join } from 'node:path';
import { startEmulatorProcess } from './emulatorProcess.ts';
import { requireCommand } from './requirements.ts';
import { execBench } from './execBench.ts';
import { extensionBench } from './extensionBench.ts';
import { kernelBench } from './kernelBench.ts';
import { reattachBench } from './reattachBench.ts';
import { syncBench } from './syncBench.ts';
import { machineDescription, markdownTable, writeJson, type BenchRow } from './report.ts';

/**
 * `npm run bench [-- --quick]`: Pod Runner's executor and kernel paths against their peers,
 * measured in the same run on the emulator and a real Jupyter Server. Prints a markdown table and
 * writes every sample to out/bench/results.json.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  requireCommand('kubectl');
  const raw: Record<string, unknown> = { machine: machineDescription(), quick };
  const rows: BenchRow[] = [];
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const emulator = await startEmulatorProcess();
  try {
    say('executor paths (P1, P9, P3, P6, P4)…');
    rows.push(...(await execBench({ kubeconfig: emulator.kubeconfigPath, quick, raw })));
    say('workspace sync (P7, P8)…');
    rows.push(...(await syncBench({ kubeconfig: emulator.kubeconfigPath, quick, raw })));
    say('kernel paths (P2, gateway first cell)…');
    rows.push(...(await kernelBench({ kubeconfig: emulator.kubeconfigPath, quick, raw })));
    say('reattach (P10)…');
    rows.push(...(await reattachBench({ kubeconfig: emulator.kubeconfigPath, quick, raw })));
  } finally {
    await emulator.stop();
  }
  say('extension (P5)…');
  rows.push(...(await extensionBench({ quick, raw })));
  rows.sort((a, b) => (a.id === '—' ? 1 : b.id === '—' ? -1 : a.id.localeCompare(b.id)));
  raw.rows = rows;
  const output = join(__dirname, '..', 'out', 'bench', 'results.json');
  await writeJson(output, raw);
  process.stdout.write(
    `\nMachine: ${machineDescription()}${quick ? ' (quick mode: fewer repetitions, 10 MB in P3)' : ''}\n\n${markdownTable(rows)}\n\nRaw samples: out/bench/results.json\n`,
  );
  const missed = rows.filter((row) => row.met === false).map((row) => `${row.id} ${row.what}`);
  if (missed.length) {
    process.stdout.write(`\nTargets missed: ${missed.join('; ')}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
