import { ExecutorStateError, KernelConnectionError } from './errors.ts';
import type { KernelChannel } from './jupyterKernelClient.ts';

/** Where a kernel works: its current directory and the folders put first on sys.path. */
export interface KernelWorkingDirectory {
  directory: string;
  importRoots: string[];
}

/**
 * Python that enters the directory and puts the roots first on sys.path (once each), leaving no
 * name behind in the user's namespace. JSON strings are valid Python string literals.
 */
function workingDirectoryCode({ directory, importRoots }: KernelWorkingDirectory): string {
  return [
    'def __pod_runner_enter(directory, roots):',
    '    import os, sys',
    '    os.chdir(directory)',
    '    for root in reversed(roots):',
    '        while root in sys.path:',
    '            sys.path.remove(root)',
    '        sys.path.insert(0, root)',
    `try:\n    __pod_runner_enter(${JSON.stringify(directory)}, ${JSON.stringify(importRoots)})`,
    'finally:\n    del __pod_runner_enter',
  ].join('\n');
}

/**
 * Applies `where` to the kernel silently (no output in any cell, no execution count); fails with
 * the kernel's own error when the directory cannot be entered, or when the kernel does not answer
 * within `timeoutMs`.
 */
export async function enterWorkingDirectory(
  channel: KernelChannel,
  where: KernelWorkingDirectory,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new KernelConnectionError(
            `the kernel did not enter ${where.directory} within ${timeoutMs / 1000} s`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    const execution = channel.execute(workingDirectoryCode(where), { silent: true });
    // Raced below: when the deadline wins, its late failure is not an unhandled rejection.
    execution.catch(() => undefined);
    const reply = await Promise.race([execution, deadline]);
    if (reply.status !== 'ok') {
      const reason = reply.error ? `${reply.error.ename}: ${reply.error.evalue}` : reply.status;
      throw new ExecutorStateError(
        `the kernel could not make ${where.directory} its working directory (${reason})`,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}
