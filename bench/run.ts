import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulatorProcess } from './emulatorProcess.ts';
import { requireCommand } from './requirements.ts';
import { extensionBench } from './extensionBench.ts';
import { machineDescription, markdownTable, writeJson, type BenchRow } from './report.ts';
import { sections, type SectionName } from './section.ts';
import { startCluster } from '../test/cluster/cluster.ts';
import { clusterKubeconfigVariable } from '../test/support/backend.ts';

/**
 * Runs one section in a Node process of its own, as each peer runs in its own: a section's
 * figures then do not depend on the heap and compiled code the sections before it left.
 */
async function runSection(
  name: SectionName,
  kubeconfig: string,
  quick: boolean,
): Promise<{ rows: BenchRow[]; raw: Record<string, unknown> }> {
  const scratch = await mkdtemp(join(tmpdir(), 'pod-runner-bench-section-'));
  try {
    const output = join(scratch, 'section.json');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, 'section.ts'),
        name,
        kubeconfig,
        output,
        ...(quick ? ['--quick'] : []),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) {
      throw new Error(`the ${name} section exited with ${String(code)}`);
    }
    return JSON.parse(await readFile(output, 'utf8')) as {
      rows: BenchRow[];
      raw: Record<string, unknown>;
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The real node the `node` section calibrates the emulator against (test/cluster), its kubeconfig
 * handed to the section in the cluster tier's variable; where it cannot start, the reason.
 */
async function startBenchNode(
  say: (line: string) => void,
): Promise<{ stop(): Promise<void> } & ({ kubeconfig: string } | { unavailable: string })> {
  const directory = await mkdtemp(join(tmpdir(), 'pod-runner-bench-node-'));
  const removeDirectory = () => rm(directory, { recursive: true, force: true });
  const kubeconfig = join(directory, 'kubeconfig');
  say('real node (npm run cluster)…');
  try {
    const cluster = await startCluster(kubeconfig, (line) => say(`  ${line}`));
    process.env[clusterKubeconfigVariable] = kubeconfig;
    return {
      kubeconfig,
      stop: async () => {
        await cluster.stop();
        await removeDirectory();
      },
    };
  } catch (error) {
    await removeDirectory();
    return {
      unavailable: error instanceof Error ? error.message : String(error),
      stop: () => Promise.resolve(),
    };
  }
}

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
  const node = await startBenchNode(say);
  try {
    for (const [name, section] of Object.entries(sections) as [
      SectionName,
      (typeof sections)[SectionName],
    ][]) {
      if (name === 'node' && 'unavailable' in node) {
        rows.push({
          id: '—',
          what: `real node: not measured: ${node.unavailable}`,
          ours: '—',
          peer: '—',
          target: '—',
        });
        continue;
      }
      say(`${section.title}…`);
      const result = await runSection(name, emulator.kubeconfigPath, quick);
      rows.push(...result.rows);
      Object.assign(raw, result.raw);
    }
  } finally {
    await emulator.stop();
    await node.stop();
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
