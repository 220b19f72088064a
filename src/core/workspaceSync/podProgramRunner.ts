import { ConnectionLostError, ExecStartError, SyncError } from '../errors.ts';
import type { PodExecClient } from '../podExec.ts';

/** The container a sync talks to. */
export interface PodTarget {
  exec: PodExecClient;
  namespace: string;
  pod: string;
  container: string;
  /** Runs the Python programs without an exec of their own, when it can (an executor's). */
  channel?: ProgramChannel;
}

/** What a program reads and writes, and what stops it. */
export interface ProgramIo {
  stdin?: Buffer | AsyncIterable<Buffer>;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  signal?: AbortSignal;
}

/**
 * A way into the pod that is already open (the executor's warm runtime): it runs a Python
 * program as `python -c CODE ARGS...` would, with an exec's outcome and rejections. Undefined
 * when it cannot now: nothing of the program ran, and an exec runs it instead.
 */
export interface ProgramChannel {
  runPython(
    program: { code: string; args: string[]; title: string },
    io: ProgramIo,
  ): Promise<{ exitCode: number } | undefined>;
}

export interface PodProgram {
  python: string;
  sh: string;
}

export interface ProgramRun {
  /** Arguments after the program; for sh the first one is $1, the rest $3 on ($2 names the reader). */
  args: string[];
  stdin?: Buffer | AsyncIterable<Buffer>;
  onStdout?: (chunk: Buffer) => void;
  signal?: AbortSignal;
  /** The run fails when the pod sends nothing for this long; default 60 s. */
  idleTimeoutMs?: number;
  /** Counts every run in the pod: an exec, or a run over the channel. */
  onExec: () => void;
  /** Told which interpreter a run uses, before its output arrives. */
  onInterpreter?: (kind: 'python' | 'sh') => void;
  /**
   * A few records only: where python is the interpreter and the pod has sh and a fast exact-read
   * tool, sh runs the program (it starts several times faster than python).
   */
  small?: boolean;
}

export interface ProgramOutcome {
  exitCode: number;
  stderr: string;
  interpreter: 'python' | 'sh';
  /** What ran: `python`, or `sh` and its exact-read tool (`sh head`, `sh dd`, `sh dd bs=1`). */
  program: string;
}

type Interpreter = { kind: 'python'; command: string } | { kind: 'sh'; reader: string };

const notFound = /not found|no such file/i;

/** Python in a fork of the channel's runtime. */
const pythonOnChannel = { kind: 'python', command: 'python' } as const;

/** The command line a program on the channel shows in `ps`, as an exec's would begin. */
function programTitle(args: string[]): string {
  return ['python', '-S', '-c', 'podrunner-sync', ...args].join(' ');
}

const defaultIdleTimeoutMs = 60_000;

/**
 * Runs the sync's programs in one container. The first run finds the interpreter (python3, then
 * python, then sh, whose exact-read tool it detects) and every later run uses it.
 */
export class PodProgramRunner {
  private interpreter: Interpreter | undefined;
  /** Whether sh and the tools of its receiver are on the PATH, as the Python receiver found. */
  shTools = false;
  /** sh's exact-read tool once a sh program detected it. */
  private shReader: string | undefined;

  constructor(readonly target: PodTarget) {}

  async run(program: PodProgram, runInput: ProgramRun): Promise<ProgramOutcome> {
    // Over the channel, Python starts as a fork (no interpreter start, no exec): faster than sh.
    if (this.target.channel) {
      const outcome = await this.runWith(pythonOnChannel, program, runInput);
      if (outcome) {
        return outcome;
      }
    }
    // A candidate that is not found may have taken part of a streamed stdin: the next one is sent
    // the same chunks again.
    const stdin =
      runInput.stdin && !Buffer.isBuffer(runInput.stdin) && !this.interpreter
        ? replayable(runInput.stdin)
        : undefined;
    const quickSh =
      runInput.small &&
      this.interpreter?.kind === 'python' &&
      this.shTools &&
      this.shReader !== 'bytes';
    const candidates: Interpreter[] = quickSh
      ? [{ kind: 'sh', reader: this.shReader ?? 'detect' }]
      : this.interpreter
        ? [this.interpreter]
        : [
            { kind: 'python', command: 'python3' },
            { kind: 'python', command: 'python' },
            { kind: 'sh', reader: 'detect' },
          ];
    for (const candidate of candidates) {
      const run = stdin ? { ...runInput, stdin: stdin() } : runInput;
      try {
        const outcome = await this.runWith(candidate, program, run);
        if (outcome) {
          return outcome;
        }
      } catch (error) {
        if (this.interpreter || !(await this.wasNotFound(error, candidate, run))) {
          throw error;
        }
      }
    }
    throw new SyncError(
      `pod ${this.target.pod} has neither python3, python nor sh in container ${this.target.container}: a sync needs one of them`,
    );
  }

  /**
   * Whether a candidate's failure means it is not in the image, so the next may run. A real
   * node's runtime reports that as a failed start, but when the exec's stdin is still streaming
   * in, the kubelet's proxy may break the connection first (no status, code 1006): then a bare
   * run of the candidate tells whether it exists, and a lost connection stays one.
   */
  private async wasNotFound(
    error: unknown,
    candidate: Interpreter,
    run: ProgramRun,
  ): Promise<boolean> {
    const isNotFound = (failure: unknown) =>
      failure instanceof ExecStartError && notFound.test(failure.message);
    if (isNotFound(error)) {
      return true;
    }
    if (run.signal?.aborted) {
      throw run.signal.reason;
    }
    if (!(error instanceof ConnectionLostError)) {
      return false;
    }
    run.onExec();
    // As any run: a pod that does not answer does not hold the sync.
    const idle = AbortSignal.timeout(run.idleTimeoutMs ?? defaultIdleTimeoutMs);
    try {
      await this.target.exec.run({
        namespace: this.target.namespace,
        pod: this.target.pod,
        container: this.target.container,
        command:
          candidate.kind === 'python' ? [candidate.command, '-S', '-c', ''] : ['sh', '-c', ':'],
        signal: run.signal ? AbortSignal.any([run.signal, idle]) : idle,
      });
      return false;
    } catch (probeFailure) {
      if (run.signal?.aborted) {
        throw run.signal.reason;
      }
      return isNotFound(probeFailure);
    }
  }

  /** Undefined when the channel could not run it (nothing ran). */
  private async runWith(
    interpreter: Interpreter | typeof pythonOnChannel,
    program: PodProgram,
    run: ProgramRun,
  ): Promise<ProgramOutcome | undefined> {
    const command =
      interpreter.kind === 'python'
        ? [interpreter.command, '-S', '-c', program.python, ...run.args]
        : [
            'sh',
            '-c',
            program.sh,
            'sh',
            run.args[0] ?? '',
            interpreter.reader,
            ...run.args.slice(1),
          ];
    let stderr = '';
    let onStdout = run.onStdout;
    if (interpreter.kind === 'sh' && interpreter.reader === 'detect') {
      onStdout = this.readerLine(run.onStdout);
    }
    const channel = interpreter === pythonOnChannel ? this.target.channel : undefined;
    if (!channel) {
      run.onExec();
    }
    run.onInterpreter?.(interpreter.kind);
    // A server or pod that stops answering (sends nothing, takes no stdin) must not hold a sync
    // forever.
    const idleMs = run.idleTimeoutMs ?? defaultIdleTimeoutMs;
    const quiet = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // Until the stdin's first chunk is made (a first sync's walk runs after its exec opened),
    // nothing is waited for from the pod.
    let beforeStdin = false;
    // A stdin chunk made after the exec ended (the walk finishing late) sets no new deadline.
    let ended = false;
    const heard = () => {
      clearTimeout(timer);
      if (beforeStdin || ended) {
        return;
      }
      timer = setTimeout(() => {
        const seconds = Math.round(idleMs / 100) / 10;
        quiet.abort(new SyncError(`pod ${this.target.pod} did not answer for ${seconds} s`));
      }, idleMs);
    };
    heard();
    const io: ProgramIo = {
      ...(run.stdin
        ? {
            stdin: Buffer.isBuffer(run.stdin)
              ? run.stdin
              : takenAsHeard(run.stdin, (waiting) => {
                  beforeStdin = waiting;
                  heard();
                }),
          }
        : {}),
      onStdout: (chunk) => {
        heard();
        onStdout?.(chunk);
      },
      onStderr: (chunk) => {
        heard();
        stderr += chunk.toString('utf8');
      },
      signal: run.signal ? AbortSignal.any([run.signal, quiet.signal]) : quiet.signal,
    };
    const ran = await (
      channel
        ? channel.runPython(
            { code: program.python, args: run.args, title: programTitle(run.args) },
            io,
          )
        : this.target.exec.run({
            namespace: this.target.namespace,
            pod: this.target.pod,
            container: this.target.container,
            command,
            ...io,
          })
    ).finally(() => {
      ended = true;
      clearTimeout(timer);
    });
    if (!ran) {
      return undefined;
    }
    // Counted once it ran: a channel that could not run it leaves the count to the exec.
    if (channel) {
      run.onExec();
    }
    const { exitCode } = ran;
    if (interpreter.kind === 'python' && !channel) {
      this.interpreter = interpreter;
    }
    const reader = interpreter.kind === 'sh' ? (this.shReader ?? interpreter.reader) : '';
    return {
      exitCode,
      stderr,
      interpreter: interpreter.kind,
      program:
        interpreter.kind === 'python' ? 'python' : `sh ${reader === 'bytes' ? 'dd bs=1' : reader}`,
    };
  }

  /** Takes the `reader <name>` line a detecting sh program prints first, and passes the rest on. */
  private readerLine(onStdout: ((chunk: Buffer) => void) | undefined): (chunk: Buffer) => void {
    let head: Buffer | undefined = Buffer.alloc(0);
    return (chunk) => {
      if (!head) {
        onStdout?.(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(0x0a);
      if (end === -1) {
        return;
      }
      const match = /^reader (\S+)$/.exec(head.subarray(0, end).toString('latin1'));
      if (match) {
        this.shReader = match[1]!;
        this.interpreter ??= { kind: 'sh', reader: this.shReader };
      }
      const rest = head.subarray(end + 1);
      head = undefined;
      if (rest.length > 0) {
        onStdout?.(rest);
      }
    };
  }
}

/**
 * Iterables over one source that each start from its first chunk; the source is read once, and
 * each chunk kept as a copy (the source may fill a chunk's memory again once the next is asked for).
 */
function replayable(source: AsyncIterable<Buffer>): () => AsyncIterable<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  return async function* () {
    for (let index = 0; ; index++) {
      if (index === seen.length) {
        const next = await iterator.next();
        if (next.done) {
          return;
        }
        seen.push(Buffer.from(next.value));
      }
      yield seen[index]!;
    }
  };
}

/**
 * The chunks of a streamed stdin: `waiting` is told when the first one is being made and when
 * each one is taken by the socket, which counts as the pod answering.
 */
async function* takenAsHeard(
  chunks: AsyncIterable<Buffer>,
  waiting: (beforeFirst: boolean) => void,
): AsyncGenerator<Buffer> {
  waiting(true);
  try {
    for await (const chunk of chunks) {
      waiting(false);
      yield chunk;
    }
  } finally {
    waiting(false);
  }
}
