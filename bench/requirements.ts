import { spawnSync } from 'node:child_process';

/** Fails loudly when a peer the bench compares against is missing: no row is silently dropped. */
export function requireCommand(command: string): void {
  if (spawnSync(command, ['--help'], { stdio: 'ignore' }).error) {
    throw new Error(`the bench needs ${command} on PATH to measure its peer rows`);
  }
}
