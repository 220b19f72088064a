import { setTimeout as sleep } from 'node:timers/promises';
import type { KernelChannel } from './jupyterKernelClient.ts';
import type { JupyterRestClient } from './jupyterRestClient.ts';
import type { Logger } from './logger.ts';

/**
 * Waits until the server's record of a kernel just started (or restarted) has left "starting".
 * Jupyter Server follows a kernel's activity on its output channel, to which it subscribes only
 * once the kernel runs: when every message the kernel sent so far came before that, the record
 * says "starting" for good, and the gateway's idle stop, which takes "starting" for activity,
 * never stops the pod. A silent empty request, made while nothing else runs, gives the record a
 * status to follow; it is made again, less and less often, until the record shows it.
 */
export async function settleKernelRecord(
  rest: JupyterRestClient,
  channel: KernelChannel,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 10; ; pause = Math.min(pause * 2, 1000)) {
    const model = await rest.kernelModel(channel.kernelId);
    if (model?.execution_state !== 'starting') {
      return;
    }
    if (Date.now() >= deadline) {
      logger.warn(
        `the server still lists kernel ${channel.kernelId} as starting: an idle stop may not see it idle`,
      );
      return;
    }
    await channel.execute('', { silent: true });
    await sleep(pause);
  }
}
