import { killUnconfirmedText, killDeadlineMs } from '../blockKill.ts';
import {
  cancelledText,
  timeoutText,
  wallClockSlackMs,
  type ExecuteOptions,
  type ExecutorContainer,
  type PlannedBlock,
} from '../codeBlockRun.ts';
import type { CommandLineCodeResult } from '../codeBlocks.ts';
import { BlockInterruptedError } from '../errors.ts';
import { OutputCollector } from '../outputCollector.ts';
import { settleOnce } from '../settleOnce.ts';
import { randomBytes } from 'node:crypto';
import type { RuntimeExit } from './runtimeProgram.ts';
import type { RuntimeStream } from './runtimeStream.ts';

/**
 * Runs one planned block on the warm runtime, with the exec path's results: its exit code, 124
 * and "Timeout" when the pod-side timeout ended it, the seed's text when cancelled (its processes
 * killed first), the scripts' messages when it could not start. A stream lost while it ran is a
 * BlockInterruptedError: the runtime kills its blocks when its stream ends, and the block is
 * never run again.
 */
export function runWarmBlock(
  stream: RuntimeStream,
  pod: ExecutorContainer,
  plan: PlannedBlock,
  options: ExecuteOptions,
): Promise<CommandLineCodeResult> {
  const collector = new OutputCollector(pod.maxOutputBytes, options.onOutput);
  const { codeFile } = plan;
  return new Promise<CommandLineCodeResult>((resolve, reject) => {
    let stopping: 'cancel' | 'timeout' | undefined;
    let unconfirmed: NodeJS.Timeout | undefined;
    const outcome = settleOnce(resolve, reject, () => {
      clearTimeout(wallClock);
      clearTimeout(unconfirmed);
      options.signal?.removeEventListener('abort', onAbort);
    });
    const stopped = (line: string): CommandLineCodeResult => {
      if (stopping === 'cancel') {
        return { exitCode: 1, output: `${collector.finish()}${line}${cancelledText}`, codeFile };
      }
      collector.note(`${line}${timeoutText}`);
      return { exitCode: 124, output: collector.finish(), codeFile };
    };
    const stop = (why: 'cancel' | 'timeout') => {
      if (stopping) {
        return;
      }
      stopping = why;
      stream.kill(id);
      unconfirmed = setTimeout(() => {
        pod.logger.warn(
          `could not kill a block in pod ${pod.name}: the warm runtime did not answer`,
        );
        outcome.resolve(
          stopped(
            `${killUnconfirmedText} in pod ${pod.name} (the warm runtime did not answer within ${killDeadlineMs / 1000} s): it may still be running.\n`,
          ),
        );
      }, killDeadlineMs);
    };
    const onAbort = () => stop('cancel');
    // The runtime ends the block at its timeout; this is for a runtime that stopped answering.
    const wallClock = setTimeout(() => stop('timeout'), pod.timeout * 1000 + wallClockSlackMs);
    const id = stream.start(
      {
        tag: randomBytes(16).toString('hex'),
        workspace: pod.workspacePath,
        name: plan.filename,
        dir: options.cwd ?? '',
        roots: options.importRoots ?? [],
        limit: pod.timeout,
        remove: plan.removeAfter,
        inProcess: plan.runtime.name === 'python',
        interpreters: plan.runtime.interpreters,
      },
      plan.body,
      {
        onOutput: (name, bytes) => collector.push(name, bytes),
        onExit: (exit) =>
          outcome.resolve(stopping ? stopped('') : resultOf(exit, collector, codeFile)),
        onLost: (lost) =>
          outcome.reject(
            new BlockInterruptedError(
              pod.name,
              `${lost.detail}; the warm runtime stops its blocks when its stream ends: the block did not finish and is not run again`,
              false,
              collector.finish(),
            ),
          ),
      },
    );
    if (options.signal?.aborted) {
      onAbort();
    } else {
      options.signal?.addEventListener('abort', onAbort, { once: true });
    }
  });
}

function resultOf(
  exit: RuntimeExit,
  collector: OutputCollector,
  codeFile: string,
): CommandLineCodeResult {
  switch (exit.status) {
    case 'outside':
      return { exitCode: 1, output: 'Filename is not in the workspace' };
    case 'missing':
    case 'failed':
      return {
        exitCode: exit.status === 'missing' ? 127 : 1,
        output: `${collector.finish()}${exit.message}`,
      };
    case 'ran':
      if (exit.timedOut) {
        collector.note(timeoutText);
      }
      return { exitCode: exit.code, output: collector.finish(), codeFile };
  }
}
