import { spawn } from 'node:child_process';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Kubectl = (
  args: string[],
  options?: { input?: string; context?: string },
) => Promise<KubectlResult>;

/** Runs the real kubectl with the given environment (KUBECONFIG, HOME), collecting its output. */
export function kubectlRunner(env: () => NodeJS.ProcessEnv): Kubectl {
  return async (args, options = {}) => {
    const child = spawn(
      'kubectl',
      [...(options.context ? ['--context', options.context] : []), ...args],
      { env: env() },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(options.input ?? '');
    const code = await new Promise<number>((resolve) =>
      child.once('close', (c) => resolve(c ?? -1)),
    );
    return { code, stdout, stderr };
  };
}
