import { createHash } from 'node:crypto';
import { clientLabel, sessionLabel } from '../core/podLabels.ts';

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 20);

/**
 * The labels that tie a pod to this machine's workspace (client) and to one window's lifetime
 * (session), so a later window finds the pods an earlier one could not delete. They are hashes:
 * no path or id can be read from a pod.
 */
export function windowPodLabels(
  machineId: string,
  workspaceFolders: readonly string[],
  sessionId: string,
): Record<string, string> {
  return {
    [clientLabel]: digest(`${machineId}\n${workspaceFolders.join('\n')}`),
    [sessionLabel]: digest(sessionId),
  };
}
