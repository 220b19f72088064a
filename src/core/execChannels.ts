import { ExecStartError, KubernetesApiError } from './errors.ts';
import type { StatusBody } from './kubernetesErrors.ts';

/** The channel numbers of the kubelet's exec protocol (the first byte of every binary frame). */
export const stdinChannel = 0;
export const stdoutChannel = 1;
export const stderrChannel = 2;
export const statusChannel = 3;
export const resizeChannel = 4;
/** v5 only: a frame `[255, channel]` closes that channel (half-closes stdin). */
export const closeChannel = 255;

export function parseStatus(payload: Buffer): StatusBody {
  const text = payload.toString('utf8');
  try {
    return JSON.parse(text) as StatusBody;
  } catch {
    // v1-v3 servers send plain text on the error channel.
    return { status: 'Failure', message: text };
  }
}

/** The exit code from a kubelet Status: 0 for Success, the `ExitCode` cause for NonZeroExitCode. */
export function exitCodeOf(status: StatusBody, pod: string): number {
  if (status.status === 'Success') {
    return 0;
  }
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  if (status.reason === 'NonZeroExitCode' && Number.isInteger(code)) {
    return code;
  }
  if (status.reason === 'InternalError' || !status.reason) {
    throw new ExecStartError(`exec in pod ${pod} failed: ${status.message ?? 'unknown error'}`);
  }
  throw new KubernetesApiError(
    `exec in pod ${pod} failed: ${status.message ?? status.reason}`,
    status.code ?? 500,
    status.reason,
  );
}
