import type { ExecutorContainer } from './codeBlockRun.ts';
import { BlockInterruptedError, type ConnectionLostError } from './errors.ts';
import { deadlineSignal } from './executorConnection.ts';
import { killBlockScript, nothingToKillExitCode } from './podScripts.ts';

export const killUnconfirmedText = 'The kill of the block could not be confirmed';
/** How long the kill of a block may take, so a cancel returns even when the API stalls. */
export const killDeadlineMs = 10_000;

/**
 * A block whose exec stream was cut runs on in the pod (a kubelet does not stop it), its output
 * going nowhere: once the API server answers again (before the block's own timeout ends it, or
 * a cancel), it is stopped, and the error says what became of it. A block of the warm runtime
 * (`warm`) is stopped by the runtime itself when its stream ends: found gone, it was stopped.
 */
export async function stopInterrupted(
  pod: ExecutorContainer,
  tag: string,
  lost: ConnectionLostError,
  output: string,
  { until, signal, warm = false }: { until: number; signal?: AbortSignal; warm?: boolean },
): Promise<BlockInterruptedError> {
  const wait = deadlineSignal(Math.max(0, until - Date.now()), signal);
  const answered = await pod.connection.awaitServer(wait.signal).finally(() => wait.clear());
  if (!answered) {
    const what = signal?.aborted
      ? `the run was cancelled before the API server answered again: the block may run on in the pod until its timeout (${pod.timeout} s)`
      : `the API server did not answer again within the block's timeout (${pod.timeout} s), which has ended it in the pod`;
    return new BlockInterruptedError(pod.name, `${lost.detail}; ${what}`, false, output);
  }
  const kill = await killBlock(pod, tag);
  const outcome = !kill.confirmed
    ? kill.line.trim()
    : kill.found
      ? 'once the API server answered again, the block was stopped in the pod: it did not finish'
      : warm
        ? 'the warm runtime stopped the block when its stream ended: it did not finish'
        : 'the block had ended in the pod by the time the API server answered again; its later output and exit code are lost';
  return new BlockInterruptedError(
    pod.name,
    `${lost.detail}; ${outcome}`,
    kill.confirmed && (kill.found || warm),
    output,
  );
}

type KillOutcome = { confirmed: true; found: boolean } | { confirmed: false; line: string };

/**
 * Kills every process of a block through a second exec, within `killDeadlineMs`: confirmed, and
 * whether any process of the block was still running; else a line saying why it could not be
 * confirmed.
 */
export async function killBlock(pod: ExecutorContainer, tag: string): Promise<KillOutcome> {
  const deadline = AbortSignal.timeout(killDeadlineMs);
  try {
    const { exitCode } = await pod.exec.run({
      namespace: pod.namespace,
      pod: pod.name,
      container: pod.container,
      command: ['sh', '-c', killBlockScript, 'pod-runner-kill', tag],
      signal: deadline,
    });
    return { confirmed: true, found: exitCode !== nothingToKillExitCode };
  } catch (error) {
    const reason = deadline.aborted
      ? `the API server did not answer within ${killDeadlineMs / 1000} s`
      : (error as Error).message;
    pod.logger.warn(`could not kill a block in pod ${pod.name}: ${reason}`);
    return {
      confirmed: false,
      line: `${killUnconfirmedText} in pod ${pod.name} (${reason}): it may still be running.\n`,
    };
  }
}
