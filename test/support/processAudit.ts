import { ChildProcess } from 'node:child_process';
import { Server, Socket } from 'node:net';
import { currentTestFile, recordInSuiteLedger } from './suiteLedger.ts';

/**
 * Loaded into every test process (`--import`). The suite runs with --test-force-exit, so a process
 * whose tests are over exits even when something is still open; this hook, running at that exit,
 * names whatever is still open and fails the file. A leaked server, socket, child process or timer
 * is thus a named failure instead of a hang.
 */

/** What a handle is, or undefined when it is stdio or already closing (its close callback pending). */
function describeHandle(handle: unknown): string | undefined {
  if (handle === process.stdout || handle === process.stderr || handle === process.stdin) {
    return undefined;
  }
  if (handle instanceof Server) {
    const address = handle.address();
    if (!handle.listening || address === null) {
      return undefined;
    }
    return `server listening on ${typeof address === 'string' ? address : `${address.address}:${address.port}`}`;
  }
  if (handle instanceof ChildProcess) {
    if (handle.exitCode !== null || handle.signalCode !== null) {
      return undefined;
    }
    return `child process ${handle.pid}: ${handle.spawnargs.join(' ')}`;
  }
  if (handle instanceof Socket) {
    if (handle.destroyed) {
      return undefined;
    }
    return handle.remotePort
      ? `socket ${handle.localAddress}:${handle.localPort} → ${handle.remoteAddress}:${handle.remotePort}`
      : 'pipe or unconnected socket';
  }
  return handle?.constructor.name ?? typeof handle;
}

function openHandles(): string[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const described = handles.map(describeHandle).filter((entry) => entry !== undefined);
  // Only timers that keep the process alive are listed here (unref'd ones are not).
  const timers = process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
  return timers > 0 ? [...described, `${timers} active timer(s)`] : described;
}

process.once('exit', () => {
  const leaked = openHandles();
  recordInSuiteLedger('processes', {
    file: currentTestFile(),
    pid: process.pid,
    openHandles: leaked,
  });
  if (leaked.length > 0) {
    process.stderr.write(
      `\n*** ${currentTestFile()}: still open when its tests ended:\n${leaked.map((h) => `  - ${h}`).join('\n')}\n`,
    );
    process.exitCode = 1;
  }
});
