import { CoreV1Api, Exec, KubeConfig } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { startEmulator } from './index.ts';

/**
 * `npm start`: starts the emulator, runs a code block in a pod through pods/exec and prints what
 * it printed, then deletes the pod and stops. No cluster or configuration needed.
 */
async function main(): Promise<void> {
  const emulator = await startEmulator();
  try {
    process.stdout.write(`emulator serving at ${emulator.url}\n`);
    const config = new KubeConfig();
    config.loadFromFile(emulator.kubeconfigPath);
    const core = config.makeApiClient(CoreV1Api);
    const name = `demo-${Date.now().toString(36)}`;
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'pod-runner' } },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'autogen-executor',
              image: 'python:3-slim',
              command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
              workingDir: '/workspace',
            },
          ],
        },
      },
    });
    for (;;) {
      const pod = await core.readNamespacedPod({ namespace: 'default', name });
      if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    process.stdout.write(`pod ${name} is Ready; running print('Hello, World!') in it\n`);
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        process.stdout.write(`  | ${chunk.toString()}`);
        callback();
      },
    });
    await new Promise<void>((resolve, reject) => {
      void new Exec(config)
        .exec(
          'default',
          name,
          'autogen-executor',
          ['python', '-c', "print('Hello, World!')"],
          output,
          process.stderr,
          null,
          false,
          (status) => {
            process.stdout.write(`exit status: ${status.status ?? 'unknown'}\n`);
            resolve();
          },
        )
        .catch(reject);
    });
    await core.deleteNamespacedPod({ namespace: 'default', name });
  } finally {
    await emulator.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
