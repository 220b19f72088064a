import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The emulator in its own process (`npm run emulator`), as a real API server would be: the
 * bench process then measures only client work, like the peers it is compared with.
 */
export async function startEmulatorProcess(): Promise<{
  kubeconfigPath: string;
  stop(): Promise<void>;
}> {
  const scratch = await mkdtemp(join(tmpdir(), 'pod-runner-bench-'));
  const kubeconfigPath = join(scratch, 'kubeconfig');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, '..', 'test', 'emulator', 'cli.ts'),
      '--kubeconfig',
      kubeconfigPath,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('emulator ready')) {
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the emulator exited with ${code}: ${output}`)));
  });
  return {
    kubeconfigPath,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(scratch, { recursive: true, force: true });
    },
  };
}
