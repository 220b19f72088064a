import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';

/** Stops a server process (TERM, KILL after 5 s) and removes its scratch directory. */
export async function stopServerProcess(
  child: ChildProcess,
  exited: Promise<void>,
  scratch: string,
): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  await rm(scratch, { recursive: true, force: true });
}
