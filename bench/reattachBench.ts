import { PodJupyterCodeExecutor, PodJupyterServer, reapOrphanedPods } from '../src/core/index.ts';
import type { BenchRow } from './report.ts';
import { median, ms } from './stats.ts';

async function expectOutput(kernel: PodJupyterCodeExecutor, code: string, output: string) {
  const result = await kernel.executeCodeBlocks([{ language: 'python', code }]);
  if (result.exitCode !== 0 || result.output.trim() !== output) {
    throw new Error(`${code} gave ${result.output}`);
  }
}

/**
 * P10: a window reopened on a kept gateway, to the first cell's result on the notebook's own
 * kernel (the gateway adopted by pod name, the kernel attached by id, its variables intact),
 * against the cold start that made them (pod + kernel + first cell), in the same run.
 */
export async function reattachBench(options: {
  kubeconfig: string;
  quick: boolean;
  raw: Record<string, unknown>;
}): Promise<BenchRow[]> {
  const cold: number[] = [];
  const reattached: number[] = [];
  for (let round = 0; round < (options.quick ? 1 : 3); round++) {
    const gateway = { kubeconfig: options.kubeconfig, podName: `bench-reattach-${round}` };
    const first = new PodJupyterServer({ ...gateway, autoRemove: false });
    let started = performance.now();
    try {
      await first.start();
      const kernel = new PodJupyterCodeExecutor(first, { timeout: 60 });
      await kernel.start();
      await expectOutput(kernel, 'x = 1\n1 + 1', '2');
      cold.push(performance.now() - started);
      const kernelId = kernel.kernelId!;
      await kernel.detach();
      await first[Symbol.asyncDispose]();

      started = performance.now();
      const again = new PodJupyterServer({ ...gateway, autoRemove: false });
      await again.start();
      const attached = new PodJupyterCodeExecutor(again, { timeout: 60, kernelId });
      await attached.start();
      await expectOutput(attached, 'x + 1', '2');
      reattached.push(performance.now() - started);
      await attached.stop();
      await again[Symbol.asyncDispose]();
    } finally {
      // The kept gateway, its Secret too, whichever server last had it.
      await reapOrphanedPods({ kubeconfig: options.kubeconfig, only: [gateway.podName] });
    }
  }
  options.raw.P10 = { reattached, cold };
  const [ours, peer] = [median(reattached), median(cold)];
  return [
    {
      id: 'P10',
      what: 'window reopened on a kept gateway → first cell on its own kernel (emulator)',
      ours: ms(ours),
      peer: `cold start, pod + kernel + cell: ${ms(peer)}`,
      ratio: ours / peer,
      target: '≤ 0.3× the cold start',
      met: Number((ours / peer).toFixed(2)) <= 0.3,
    },
  ];
}
