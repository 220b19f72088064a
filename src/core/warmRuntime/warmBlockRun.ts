import { killBlock, stopInterrupted } from '../blockKill.ts';
import {
  cancelledText,
  timeoutText,
  wallClockSlackMs,
  type ExecuteOptions,
  type ExecutorContainer,
} from '../codeBlockRun.ts';
import type { ConnectionLostError } from '../errors.ts';
import { OutputCollector } from '../outputCollector.ts';
import { settleOnce } from '../settleOnce.ts';
import { randomBytes } from 'node:crypto';
import type { RuntimeExit, RuntimeStart } from './runtimeProgram.ts';
import type { RuntimeStream } from './runtimeStream.ts';

/** How long a killed block's exit may take to follow its kill. */
const lastOutputGraceMs = 1_000;

/** A block's start on the runtime, its tag aside (each run has its own). */
export type WarmRequest = Omit<RuntimeStart, 'tag' | 'limit'>;

/** How a run ended; `ranCode` false when it could not start (the scripts' messages). */
export interface WarmOutcome {
  exitCode: number;
  output: string;
  ranCode: boolean;
}

/**
 * Runs one block (or file) on the warm runtime, with the exec path's results: its exit code, 124
 * and "Timeout" when the pod-side timeout ended it, the seed's text when cancelled (its processes
 * killed first), the scripts' messages when it could not start. A stream lost while it ran is a
 * BlockInterruptedError saying what became of the block; it is never run again.
 */
export function runWarmBlock(
  stream: RuntimeStream,
  pod: ExecutorContainer,
  request: WarmRequest,
  body: Buffer,
  options: ExecuteOptions,
): Promise<WarmOutcome> {
  const collector = new OutputCollector(pod.maxOutputBytes, options.onOutput);
  return new Promise<WarmOutcome>((resolve, reject) => {
    let stopping: 'cancel' | 'timeout' | 'lost' | undefined;
    let lastOutput: NodeJS.Timeout | undefined;
    const started = Date.now();
    const tag = randomBytes(16).toString('hex');
    const quiet = () => {
      clearTimeout(wallClock);
      clearTimeout(lastOutput);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const outcome = settleOnce(resolve, reject, quiet);
    // The output is taken once: only by the outcome that wins.
    const settle = (result: () => WarmOutcome) => {
      if (!outcome.settled) {
        outcome.resolve(result());
      }
    };
    const stopped = (line: string): WarmOutcome => {
      if (stopping === 'cancel') {
        return {
          exitCode: 1,
          output: `${collector.finish()}${line}${cancelledText}`,
          ranCode: true,
        };
      }
      collector.note(`${line}${timeoutText}`);
      return { exitCode: 124, output: collector.finish(), ranCode: true };
    };
    const stop = (why: 'cancel' | 'timeout') => {
      if (stopping) {
        return;
      }
      stopping = why;
      if (!stream.kill(id)) {
        settle(() => stopped(''));
        return;
      }
      // A stream that stalls carries no kill: the exec path's kill, by the block's tag, reaches
      // it all the same. Whichever confirms first ends the run.
      void killBlock(pod, tag).then((kill) => {
        // Ended meanwhile (the runtime's exit came first): no timer is left behind.
        if (stopping === 'lost' || outcome.settled) {
          return;
        }
        // Killed: the runtime's exit, behind the block's last output, follows on a live stream.
        if (kill.confirmed && !stream.isEnded) {
          lastOutput = setTimeout(() => settle(() => stopped('')), lastOutputGraceMs);
        } else {
          settle(() => stopped(kill.confirmed ? '' : kill.line));
        }
      });
    };
    const onAbort = () => stop('cancel');
    // The runtime ends the block at its timeout; this is for a runtime that stopped answering.
    const wallClock = setTimeout(() => stop('timeout'), pod.timeout * 1000 + wallClockSlackMs);
    const id = stream.start({ ...request, tag, limit: pod.timeout }, body, {
      onOutput: (name, bytes) => collector.push(name, bytes),
      onExit: (exit) => settle(() => (stopping ? stopped('') : resultOf(exit, collector))),
      // As on the exec path: once the API server answers, whatever is left of the block is
      // killed (the runtime kills its blocks when its stream ends, where the kubelet says so).
      onLost: (lost, ran) => {
        stopping = 'lost';
        quiet();
        if (!ran) {
          outcome.reject(new NotRunError(lost));
          return;
        }
        void stopInterrupted(pod, tag, lost, collector.finish(), {
          until: started + pod.timeout * 1000 + wallClockSlackMs,
          ...(options.signal ? { signal: options.signal } : {}),
          warm: true,
        }).then(
          (interrupted) => outcome.reject(interrupted),
          (error: unknown) => outcome.reject(error),
        );
      },
    });
    if (options.signal?.aborted) {
      onAbort();
    } else {
      options.signal?.addEventListener('abort', onAbort, { once: true });
    }
  });
}

/** The stream ended before the runtime was told to run the block: nothing of it ran. */
export class NotRunError extends Error {
  constructor(readonly lost: ConnectionLostError) {
    super(lost.message);
  }
}

function resultOf(exit: RuntimeExit, collector: OutputCollector): WarmOutcome {
  switch (exit.status) {
    case 'outside':
      return { exitCode: 1, output: 'Filename is not in the workspace', ranCode: false };
    case 'missing':
    case 'failed':
      return {
        exitCode: exit.status === 'missing' ? 127 : 1,
        output: `${collector.finish()}${exit.message}`,
        ranCode: false,
      };
    case 'ran':
      if (exit.timedOut) {
        collector.note(timeoutText);
      }
      return { exitCode: exit.code, output: collector.finish(), ranCode: true };
  }
}
