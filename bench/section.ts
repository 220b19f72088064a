import { writeFile } from 'node:fs/promises';
import { execBench } from './execBench.ts';
import { kernelBench } from './kernelBench.ts';
import { nodeBench } from './nodeBench.ts';
import { reattachBench } from './reattachBench.ts';
import type { BenchRow } from './report.ts';
import { syncBench } from './syncBench.ts';

/** The bench's sections against the emulator, each run by `runSection` in a process of its own. */
export const sections = {
  exec: { title: 'executor paths (P1, P9, P3, P6, P4)', run: execBench },
  sync: { title: 'workspace sync (P7, P8)', run: syncBench },
  kernel: { title: 'kernel paths (P2, gateway first cell)', run: kernelBench },
  reattach: { title: 'reattach (P10)', run: reattachBench },
  node: {
    title: 'the real node against the emulator (P1, P4, gateway first cell)',
    run: nodeBench,
  },
} satisfies Record<
  string,
  {
    title: string;
    run: (options: {
      kubeconfig: string;
      quick: boolean;
      raw: Record<string, unknown>;
    }) => Promise<BenchRow[]>;
  }
>;

export type SectionName = keyof typeof sections;

/** `node bench/section.ts <name> <kubeconfig> <output.json> [--quick]`: one section's rows and samples. */
async function main(): Promise<void> {
  const [name, kubeconfig, output] = process.argv.slice(2);
  const section = sections[name as SectionName];
  if (!section || !kubeconfig || !output) {
    throw new Error(
      'usage: section.ts <exec|sync|kernel|reattach|node> <kubeconfig> <output.json>',
    );
  }
  const raw: Record<string, unknown> = {};
  const rows = await section.run({ kubeconfig, quick: process.argv.includes('--quick'), raw });
  await writeFile(output, JSON.stringify({ rows, raw }));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `bench section failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
