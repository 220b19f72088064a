import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { startEmulator } from './index.ts';
import { onParentExit } from '../support/parentExit.ts';

/** `npm run emulator -- --kubeconfig PATH [--port N]`: serves until SIGINT/SIGTERM or its parent exits. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.kubeconfig) {
    process.stdout.write('usage: npm run emulator -- --kubeconfig PATH [--port N]\n');
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be a port number from 0 to 65535, got "${values.port}"`);
  }
  const kubeconfigPath = resolve(values.kubeconfig);
  const emulator = await startEmulator({ port, kubeconfigPath });
  process.stdout.write(
    `pod-runner emulator ready at ${emulator.url} (kubeconfig: ${kubeconfigPath}, context: pod-runner-emulator)\n`,
  );
  let stopping = false;
  const stop = (cause: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    process.stdout.write(`${cause}: stopping every pod and exiting\n`);
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`emulator stop failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  // A supervisor that went away may have closed our output; stopping must finish all the same.
  process.stdout.on('error', () => undefined);
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  onParentExit(() => stop('parent process exited'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `pod-runner emulator: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
