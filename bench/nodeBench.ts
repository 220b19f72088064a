import { PodCommandLineCodeExecutor } from '../src/core/index.ts';
import { clusterKubeconfigVariable } from '../test/support/backend.ts';
import { gatewayFirstCells } from './kernelBench.ts';
import { readiness } from './podStartBench.ts';
import type { BenchRow } from './report.ts';
import { median, ms, timeRepeated } from './stats.ts';

/**
 * The emulator calibrated against a real node (test/cluster: kubelet, containerd, runc): P1, P4
 * and the gateway's first cell, measured on both in the same run. Each row's figure is the real
 * node's; its peer is the emulator's.
 */
export async function nodeBench(options: {
  kubeconfig: string;
  quick: boolean;
  raw: Record<string, unknown>;
}): Promise<BenchRow[]> {
  const nodeKubeconfig = process.env[clusterKubeconfigVariable];
  if (!nodeKubeconfig) {
    throw new Error(
      `the node section needs the cluster's kubeconfig in ${clusterKubeconfigVariable}`,
    );
  }
  const backends = { node: nodeKubeconfig, emulator: options.kubeconfig };
  const p1 = { node: [] as number[], emulator: [] as number[] };
  const executors = {
    node: new PodCommandLineCodeExecutor({ kubeconfig: backends.node, timeout: 120 }),
    emulator: new PodCommandLineCodeExecutor({ kubeconfig: backends.emulator, timeout: 120 }),
  };
  try {
    await Promise.all(Object.values(executors).map((executor) => executor.start()));
    // Rounds alternate the two, so a drift in the machine's speed falls on both.
    for (let round = 0; round < (options.quick ? 1 : 6); round++) {
      for (const name of ['node', 'emulator'] as const) {
        p1[name].push(
          ...(await timeRepeated({ warmup: 1, reps: options.quick ? 5 : 10 }, async () => {
            const result = await executors[name].executeCodeBlocks([
              { language: 'python', code: 'print(1)' },
            ]);
            if (result.output !== '1\n') {
              throw new Error(`P1 output on the ${name}: ${result.output}`);
            }
          })),
        );
      }
    }
  } finally {
    await Promise.all(Object.values(executors).map((executor) => executor.stop()));
  }
  const starts = options.quick ? 2 : 5;
  const ready = {
    node: await readiness({ kubeconfig: backends.node }, starts),
    emulator: await readiness({ kubeconfig: backends.emulator }, starts),
  };
  const cells = options.quick ? 1 : 3;
  const firstCell = {
    node: await gatewayFirstCells(backends.node, cells),
    emulator: await gatewayFirstCells(backends.emulator, cells),
  };
  options.raw.realNode = { p1, ready, firstCell };
  const row = (id: string, what: string, node: number[], emulator: number[]): BenchRow => ({
    id,
    what: `${what} (real node; peer: the emulator)`,
    ours: ms(median(node)),
    peer: `emulator: ${ms(median(emulator))}`,
    ratio: median(node) / median(emulator),
    target: '—',
  });
  return [
    row('P1', '`print(1)` on a running executor', p1.node, p1.emulator),
    row('P4', 'pod Ready event → executor ready', ready.node.ours, ready.emulator.ours),
    row(
      'P4',
      'pod create → executor ready',
      ready.node.createToReady,
      ready.emulator.createToReady,
    ),
    row('—', 'gateway pod create → first cell result', firstCell.node, firstCell.emulator),
  ];
}
