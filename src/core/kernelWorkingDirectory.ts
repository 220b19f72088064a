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
 * The working directory an executor keeps its kernel in. It is remembered as soon as it is asked
 * for, and applied again whenever the kernel may have lost it: on a new kernel (channel), after
 * the server restarted the kernel (`channel.restarts`), after `invalidate()` (an explicit
 * restart), and after an attempt that ended without the kernel's answer.
 */
export class WorkingDirectoryKeeper {
  private requested: KernelWorkingDirectory | undefined;
  /** What the kernel last confirmed, on which channel, after how many server restarts. */
  private applied:
    { where: KernelWorkingDirectory; channel: KernelChannel; restarts: number } | undefined;
  /** Counts invalidate() calls: an answer to a request sent before one confirms nothing. */
  private generation = 0;

  /** Forgets the directory (the executor stopped). */
  forget(): void {
    this.requested = undefined;
    this.applied = undefined;
  }

  /** The kernel's state is about to be lost (an explicit restart): apply again afterwards. */
  invalidate(): void {
    this.applied = undefined;
    this.generation++;
  }

  /**
   * Remembers `where` and applies it when there is a kernel. Only when the kernel itself answers
   * that it did not enter it (a missing folder) is the previous directory kept instead; any
   * other failure leaves `where` to be applied before the next cell.
   */
  async set(
    channel: KernelChannel | undefined,
    where: KernelWorkingDirectory,
    deadlineMs: number | undefined,
  ): Promise<void> {
    const previous = this.requested;
    this.requested = where;
    if (!channel) {
      return;
    }
    try {
      await this.apply(channel, where, deadlineMs);
    } catch (error) {
      // Only apply() throws this one: the kernel's own answer that it did not enter `where`.
      if (error instanceof ExecutorStateError && this.requested === where) {
        this.requested = previous;
        // Re-entered before the next cell, in case the kernel failed halfway.
        this.applied = undefined;
      }
      throw error;
    }
  }

  /** Applies the remembered directory unless the kernel on `channel` already confirmed it. */
  async ensure(channel: KernelChannel, deadlineMs: number | undefined): Promise<void> {
    const { requested, applied } = this;
    const current =
      applied?.where === requested &&
      applied?.channel === channel &&
      applied.restarts === channel.restarts;
    if (requested && !current) {
      await this.apply(channel, requested, deadlineMs);
    }
  }

  /**
   * Sends the change silently (no output in any cell, no execution count). With a deadline, a
   * kernel that does not answer in time fails the call (the request may still run later, so the
   * directory stays remembered); without one, the request waits its turn behind a running cell.
   */
  private async apply(
    channel: KernelChannel,
    where: KernelWorkingDirectory,
    deadlineMs: number | undefined,
  ): Promise<void> {
    // The deadline is the kernel's answer to the change, not a restart the server is doing.
    await channel.recoverFromServerRestart();
    const restarts = channel.restarts;
    const generation = this.generation;
    let timer: NodeJS.Timeout | undefined;
    const execution = channel.execute(workingDirectoryCode(where), { silent: true });
    // Raced below: when the deadline wins, its late failure is not an unhandled rejection.
    execution.catch(() => undefined);
    const deadline = new Promise<never>((_, reject) => {
      if (deadlineMs !== undefined) {
        timer = setTimeout(
          () =>
            reject(
              new KernelConnectionError(
                `the kernel did not answer within ${deadlineMs / 1000} s while entering ${where.directory}`,
              ),
            ),
          deadlineMs,
        );
      }
    });
    try {
      const reply = await Promise.race([execution, deadline]);
      if (reply.status !== 'ok') {
        const reason = reply.error ? `${reply.error.ename}: ${reply.error.evalue}` : reply.status;
        throw new ExecutorStateError(
          `the kernel could not make ${where.directory} its working directory (${reason})`,
        );
      }
      if (generation === this.generation) {
        this.applied = { where, channel, restarts };
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
