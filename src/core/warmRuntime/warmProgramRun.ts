import { randomBytes } from 'node:crypto';
import { SyncError } from '../errors.ts';
import { settleOnce } from '../settleOnce.ts';
import type { ProgramIo } from '../workspaceSync/podProgramRunner.ts';
import type { RuntimeStream } from './runtimeStream.ts';
import { NotRunError } from './warmBlockRun.ts';

/** A program's limit on the runtime: it is stopped by its caller (idle timeout, cancel), not by time. */
const programLimitSeconds = 7 * 24 * 3600;
/** How long a stopped program has to end by itself on the end of its stdin before it is killed. */
const stdinEndGraceMs = 2_000;

/**
 * Runs a Python program (as `python -c CODE ARGS...` would) in a fork of the warm runtime, fed
 * `io.stdin`, with the exec path's outcome: its exit code (128 + the signal when killed), or the
 * rejection an exec gives: `io.signal`'s reason at once, the stream's ConnectionLostError when it
 * was cut while the program ran. A NotRunError says nothing ran. A stopped program is ended as an
 * exec's is when it closes: its stdin ends (a receiver removes its temporary file and exits), and
 * whatever is left of it is killed shortly after.
 */
export function runWarmProgram(
  stream: RuntimeStream,
  code: string,
  args: string[],
  title: string,
  io: ProgramIo,
): Promise<{ exitCode: number }> {
  return new Promise((resolve, reject) => {
    const outcome = settleOnce(resolve, reject, () =>
      io.signal?.removeEventListener('abort', onAbort),
    );
    const stop = (reason: unknown) => {
      if (outcome.settled) {
        return;
      }
      outcome.reject(reason);
      stream.endStdin(id);
      setTimeout(() => stream.kill(id), stdinEndGraceMs).unref();
    };
    const onAbort = () => stop(io.signal?.reason);
    const id = stream.start(
      {
        tag: randomBytes(16).toString('hex'),
        workspace: '/',
        name: '',
        dir: '/',
        roots: [],
        limit: programLimitSeconds,
        remove: false,
        inProcess: true,
        interpreters: [],
        program: { python: true, argv: args, title },
        stdin: io.stdin !== undefined,
      },
      Buffer.from(code),
      {
        onOutput: (name, bytes) => (name === 'stdout' ? io.onStdout : io.onStderr)?.(bytes),
        onExit: (exit) => {
          if (exit.status === 'ran') {
            outcome.resolve({ exitCode: exit.code });
          } else {
            outcome.reject(new SyncError(exit.status === 'outside' ? exit.status : exit.message));
          }
        },
        onLost: (lost, ran) => outcome.reject(ran ? lost : new NotRunError(lost)),
        onStdinError: (error) => stop(error),
      },
      io.stdin,
    );
    if (io.signal?.aborted) {
      onAbort();
    } else {
      io.signal?.addEventListener('abort', onAbort, { once: true });
    }
  });
}
