import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';

/** One row of the table: our figure, the peer's from the same run, and the ratio ours/peer. */
export interface BenchRow {
  id: string;
  what: string;
  ours: string;
  peer: string;
  /** ours ÷ peer for times (lower is better), peer ÷ ours never: every ratio reads "ours per peer". */
  ratio?: number;
  target: string;
  /** undefined when the row has no target. */
  met?: boolean;
}

export function machineDescription(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}

export function markdownTable(rows: BenchRow[]): string {
  const header = ['id', 'what', 'Pod Runner', 'peer (same run)', 'ratio', 'target', 'met'];
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map(
      (row) =>
        `| ${[
          row.id,
          row.what,
          row.ours,
          row.peer,
          row.ratio === undefined ? '—' : `${row.ratio.toFixed(2)}×`,
          row.target,
          row.met === undefined ? '—' : row.met ? 'yes' : '**no**',
        ].join(' | ')} |`,
    ),
  ];
  return lines.join('\n');
}

export async function writeJson(path: string, data: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(data, null, 2)}\n`);
}
