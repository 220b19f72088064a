import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from '../cluster/cluster.ts';
import { clusterKubeconfigVariable } from './backend.ts';

/**
 * The cluster tier of `npm test`: the shared test files (those that take their Kubernetes from
 * `withBackend`) run once more against a real single-node cluster (test/cluster: Kubernetes built
 * from source, containerd, runc), one file at a time, since they share its node. A node that
 * cannot start fails the tier with the reason; it never passes by not running.
 */
export function clusterTierFiles(files: string[]): string[] {
  return files.filter((file) => readFileSync(file, 'utf8').includes('withBackend('));
}

export async function runClusterTier(
  files: string[],
  runTests: (files: string[], env: NodeJS.ProcessEnv) => Promise<number>,
  say: (line: string) => void,
): Promise<number> {
  say(`\nCluster tier: ${files.length} files on a real node`);
  const directory = await mkdtemp(join(tmpdir(), 'pod-runner-cluster-tier-'));
  const kubeconfigPath = join(directory, 'kubeconfig');
  try {
    const started = Date.now();
    let cluster;
    try {
      cluster = await startCluster(kubeconfigPath, (line) => say(`cluster: ${line}`));
    } catch (error) {
      say(
        `✖ cluster tier: the node did not start: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 1;
    }
    say(`cluster: ready in ${Math.round((Date.now() - started) / 1000)} s`);
    let exit = 1;
    try {
      exit = await runTests(files, { [clusterKubeconfigVariable]: kubeconfigPath });
    } finally {
      try {
        await cluster.stop();
      } catch (error) {
        say(`✖ cluster tier: ${error instanceof Error ? error.message : String(error)}`);
        exit = 1;
      }
    }
    return exit;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
