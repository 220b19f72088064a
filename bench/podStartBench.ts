import { CoreV1Api, KubeConfig, Watch, type V1Pod } from '@kubernetes/client-node';
import { PodCommandLineCodeExecutor } from '../src/core/index.ts';
import { isPodReady } from '../src/core/podLauncher.ts';
import type { ExecBenchOptions } from './execBench.ts';
import type { BenchRow } from './report.ts';
import type { SeedPeer } from './seedPeer.ts';
import { median, ms } from './stats.ts';

/**
 * P4: the latency from the pod's Ready watch event to `start()` resolving, for our watch-based
 * wait and for the seed's 0.1 s status poll, measured on the same pod start.
 */
export async function readiness(options: Pick<ExecBenchOptions, 'kubeconfig'>, starts: number) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfig);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const ours: number[] = [];
  const polled: number[] = [];
  const createToReady: number[] = [];
  for (let index = 0; index < starts; index++) {
    const executor = new PodCommandLineCodeExecutor({ kubeconfig: options.kubeconfig });
    let readyEventAt = Number.NaN;
    const watch = await new Watch(kubeConfig).watch(
      '/api/v1/namespaces/default/pods',
      { fieldSelector: `metadata.name=${executor.podName}` },
      (_type: string, pod: V1Pod) => {
        if (Number.isNaN(readyEventAt) && isPodReady(pod)) {
          readyEventAt = performance.now();
        }
      },
      () => undefined,
    );
    let pollSawRunningAt = Number.NaN;
    const polling = (async () => {
      for (let i = 0; i < 600 && Number.isNaN(pollSawRunningAt); i++) {
        await new Promise((done) => setTimeout(done, 100));
        const pod = await core
          .readNamespacedPodStatus({ namespace: 'default', name: executor.podName })
          .catch(() => undefined);
        if (pod?.status?.phase === 'Running') {
          pollSawRunningAt = performance.now();
        }
      }
    })();
    const started = performance.now();
    await executor.start();
    const startedAt = performance.now();
    await polling;
    watch.abort();
    createToReady.push(startedAt - started);
    ours.push(startedAt - readyEventAt);
    polled.push(pollSawRunningAt - readyEventAt);
    await executor.stop();
  }
  return { ours, polled, createToReady };
}

/**
 * Pod create → first result: a new executor (its default pod), started, and its first `print(1)`
 * block, for ours and the seed's; each after a warm-up start, and each executor stopped untimed.
 */
async function firstResultRow(options: ExecBenchOptions, seed: SeedPeer): Promise<BenchRow> {
  const reps = options.quick ? 2 : 5;
  const ours: number[] = [];
  for (let index = 0; index <= reps; index++) {
    const started = performance.now();
    const executor = new PodCommandLineCodeExecutor({ kubeconfig: options.kubeconfig });
    try {
      await executor.start();
      const result = await executor.executeCodeBlocks([{ language: 'python', code: 'print(1)' }]);
      if (result.output !== '1\n') {
        throw new Error(`first block output: ${result.output}`);
      }
      if (index > 0) {
        ours.push(performance.now() - started);
      }
    } finally {
      await executor.stop();
    }
  }
  await seed.coldStarts(1, 120);
  const seedStarts = await seed.coldStarts(reps, 120);
  options.raw.firstResult = { ours, seed: seedStarts };
  return {
    id: 'P4',
    what: "pod create → first block's result (new executor, `print(1)`)",
    ours: ms(median(ours)),
    peer: `${seed.name}: ${ms(median(seedStarts))}`,
    ratio: median(ours) / median(seedStarts),
    target: '—',
  };
}

/** P4 and the start-up rows: readiness after the Ready event, and pod create → first result. */
export async function podStartRows(options: ExecBenchOptions, seed: SeedPeer): Promise<BenchRow[]> {
  const rows = [await firstResultRow(options, seed)];
  const ready = await readiness(options, options.quick ? 2 : 10);
  options.raw.P4 = ready;
  const oursReady = median(ready.ours);
  rows.push({
    id: 'P4',
    what: 'pod Ready event → executor ready',
    ours: ms(oursReady),
    peer: `seed's 0.1 s status poll: ${ms(median(ready.polled))}`,
    ratio: oursReady / median(ready.polled),
    target: '≤ 20 ms',
    met: oursReady <= 20,
  });
  rows.push({
    id: '—',
    what: 'pod create → executor ready (emulator)',
    ours: ms(median(ready.createToReady)),
    peer: '—',
    target: '—',
  });
  return rows;
}
