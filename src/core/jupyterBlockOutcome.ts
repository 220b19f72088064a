import type { ExecutionReply } from './jupyterKernelClient.ts';
import { stripAnsi, type KernelOutputEvent } from './jupyterMessages.ts';

/**
 * A finished block's exit code, its failure written through `write`: 124 after its timeout, 1
 * when cancelled, aborted by the kernel or failed (the error event seen on iopub, else the
 * reply's own), 0 otherwise.
 */
export function blockExitCode(
  stopReason: 'timeout' | 'cancelled' | undefined,
  reply: ExecutionReply,
  error: Extract<KernelOutputEvent, { type: 'error' }> | undefined,
  write: (text: string) => void,
): number {
  if (stopReason === 'timeout') {
    write('\n Timeout');
    return 124;
  }
  if (stopReason === 'cancelled') {
    write('Code execution was cancelled.');
    return 1;
  }
  if (reply.status === 'aborted') {
    write(
      'ERROR: the kernel aborted this block without running it (a request before it on the kernel failed)',
    );
    return 1;
  }
  const failure = error ?? (reply.error && { type: 'error', ...reply.error });
  if (failure) {
    const traceback = stripAnsi(failure.traceback.join('\n'));
    write(`ERROR: ${failure.ename}: ${failure.evalue}\n${traceback}`);
    return 1;
  }
  return 0;
}
