import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { startCluster, type RunningCluster } from './cluster.ts';
import { onParentExit } from '../support/parentExit.ts';

const usage = 'usage: npm run cluster -- --kubeconfig PATH [--control-plane-only]\n';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'control-plane-only': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.kubeconfig) {
    process.stdout.write(usage);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  if (process.getuid?.() !== 0) {
    throw new Error('the cluster runs a kubelet and containerd, which need root');
  }
  const kubeconfigPath = resolve(values.kubeconfig);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const running: { cluster?: RunningCluster } = {};
  let stopRequested = false;
  const stop = (cause: string) => {
    if (stopRequested) {
      return;
    }
    stopRequested = true;
    log(`${cause}: stopping the cluster`);
    if (!running.cluster) {
      // startCluster cleans up after itself once the layer it is in fails or finishes.
      return;
    }
    running.cluster.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`cluster stop failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  onParentExit(() => stop('parent exited'));
  const started = Date.now();
  const cluster = await startCluster(kubeconfigPath, log, !values['control-plane-only']);
  running.cluster = cluster;
  if (stopRequested) {
    await cluster.stop();
    process.exit(0);
  }
  log(
    `cluster ready at ${cluster.server} in ${Math.round((Date.now() - started) / 1000)} s ` +
      `(logs in ${cluster.clusterDir}); Ctrl-C stops it`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
