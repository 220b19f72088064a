import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import {
  declaredFilename,
  generatedFilename,
  runtimeFor,
  silencePip,
  type CodeBlock,
  type CommandLineCodeResult,
  type LanguageRuntime,
} from './codeBlocks.ts';
import { Backoff } from './backoff.ts';
import { killBlock, stopInterrupted } from './blockKill.ts';
import { ConnectionLostError, FunctionsSetupError } from './errors.ts';
import {
  deadlineSignal,
  executorReconnectBackoff,
  type ExecutorConnection,
} from './executorConnection.ts';
import {
  buildFunctionsModule,
  requiredPackages,
  type FunctionWithRequirements,
} from './functions.ts';
import type { Logger } from './logger.ts';
import { OutputCollector, type OutputChunk } from './outputCollector.ts';
import type { PathMapping } from './pathMapping.ts';
import type { PodExecClient } from './podExec.ts';
import { exitCodes, runBlockScript, scriptMarker, taggedShell } from './podScripts.ts';

export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Output as it arrives, stdout and stderr in arrival order. */
  onOutput?: (chunk: OutputChunk) => void;
  /** The blocks' working directory in the pod (a POSIX path); default the workspace. */
  cwd?: string;
  /** Folders in the pod put first on PYTHONPATH (a synced project's root). */
  importRoots?: string[];
  /**
   * Where the code came from: the result then maps its code file to `localFile`, its line numbers
   * shifted to the editor's (`startLine` is the 1-based line of the code's first line).
   */
  source?: { localFile: string; startLine: number };
  /**
   * Called before each block's output arrives with the mappings that turn it into local paths
   * (the synced folders and, with `source`, the block's code file), so streamed output can be
   * mapped as it comes; the result carries the same mappings.
   */
  onPathMappings?: (mappings: readonly PathMapping[]) => void;
}

/** The executor container code runs in, and the limits it runs under. */
export interface ExecutorContainer {
  exec: PodExecClient;
  namespace: string;
  /** The pod's name. */
  name: string;
  container: string;
  workspacePath: string;
  /** Seconds per block. */
  timeout: number;
  maxOutputBytes: number;
  /** Keep generated code files (tmp_code_*) in the workspace after their block. */
  keepCodeFiles: boolean;
  logger: Logger;
  /** Waits for the API server after an exec lost its connection; tells a pod gone. */
  connection: ExecutorConnection;
}

export const cancelledText = 'Code execution was cancelled.';
export const timeoutText = '\n Timeout';
/** Extra time the client waits past the pod-side timeout before it kills the block itself. */
export const wallClockSlackMs = 15_000;
/** For the executor's own setup execs (writing the functions module, importing it). */
const setupSlackMs = 30_000;

/** A block ready to run: its code, and the file it is written to in the pod. */
export interface PlannedBlock {
  runtime: LanguageRuntime;
  body: Buffer;
  /** As declared (`# filename:`) or generated; relative to the workspace unless absolute. */
  filename: string;
  /** Its pod path. */
  codeFile: string;
  /** The file is this run's own (generated, not kept): removed once the block ends. */
  removeAfter: boolean;
}

/** The block's code and file, or the result of a block whose language is not supported. */
export function planCodeBlock(
  pod: Pick<ExecutorContainer, 'workspacePath' | 'keepCodeFiles'>,
  block: CodeBlock,
): PlannedBlock | CommandLineCodeResult {
  const runtime = runtimeFor(block.language);
  if (!runtime) {
    return { exitCode: 1, output: `Unsupported language: ${block.language}` };
  }
  const code = silencePip(block.code, runtime);
  const declared = declaredFilename(code);
  const removeAfter = declared === undefined && !pod.keepCodeFiles;
  const filename =
    declared ??
    generatedFilename(code, runtime, removeAfter ? randomBytes(8).toString('hex') : undefined);
  const codeFile = posix.isAbsolute(filename)
    ? posix.normalize(filename)
    : posix.join(pod.workspacePath, filename);
  return { runtime, body: Buffer.from(code), filename, codeFile, removeAfter };
}

/**
 * Runs one block through pods/exec: its code goes in on stdin and is written to its file in the
 * workspace (a generated one, unless the pod keeps code files, is this run's own and is removed
 * afterwards), then runs in `options.cwd` (default the workspace) with `importRoots` first on
 * PYTHONPATH.
 */
export async function runCodeBlock(
  pod: ExecutorContainer,
  block: CodeBlock,
  options: ExecuteOptions,
  onCodeFile?: (codeFile: string) => void,
): Promise<CommandLineCodeResult> {
  const plan = planCodeBlock(pod, block);
  if (!('body' in plan)) {
    return plan;
  }
  onCodeFile?.(plan.codeFile);
  const result = await runTagged(
    pod,
    runBlockScript,
    [
      String(plan.body.length),
      pod.workspacePath,
      plan.filename,
      String(pod.timeout),
      options.cwd ?? '',
      (options.importRoots ?? []).join(':'),
      plan.removeAfter ? '1' : '0',
      ...plan.runtime.interpreters,
    ],
    options,
    plan.body,
  );
  const { ranCode, ...outcome } = result;
  return ranCode ? { ...outcome, codeFile: plan.codeFile } : outcome;
}

type TaggedOutcome = { exitCode: number; output: string; ranCode: boolean };

/**
 * Runs a shell script of podScripts.ts through pods/exec, tagged, under the pod's timeout, and
 * streams its output back; on cancel or when the wall clock runs out, every process it started
 * is killed. `ranCode` is false when the script itself failed before running any code.
 *
 * While the API server cannot be reached, the run waits for it (up to the pod's timeout) and
 * starts once it answers: an exec whose stream never opened never started (such a failure comes
 * back from runTaggedOnce as its error, nothing having run). A stream cut while
 * the block ran throws a BlockInterruptedError once the block is stopped in the pod; a pod gone
 * meanwhile throws PodGoneError.
 */
export async function runTagged(
  pod: ExecutorContainer,
  script: string,
  argv: string[],
  options: ExecuteOptions,
  stdin?: Buffer,
): Promise<TaggedOutcome> {
  const patience = deadlineSignal(pod.timeout * 1000, options.signal);
  try {
    // A server that answers while the exec still cannot open (a proxy refusing upgrades) is
    // tried again at a slower pace, not in a loop.
    const slower = new Backoff(executorReconnectBackoff, patience.signal);
    let answered = false;
    for (;;) {
      const outcome = await runTaggedOnce(pod, script, argv, options, stdin);
      if (!(outcome instanceof ConnectionLostError)) {
        return outcome;
      }
      answered =
        (!answered || (await slower.wait())) && (await pod.connection.awaitServer(patience.signal));
      if (!answered) {
        if (options.signal?.aborted) {
          return { exitCode: 1, output: cancelledText, ranCode: false };
        }
        throw new ConnectionLostError(
          pod.name,
          `the block could not be started within its ${pod.timeout} s (${outcome.detail}): it was not run`,
        );
      }
    }
  } finally {
    patience.clear();
  }
}

async function runTaggedOnce(
  pod: ExecutorContainer,
  script: string,
  argv: string[],
  options: ExecuteOptions,
  stdin?: Buffer,
): Promise<TaggedOutcome | ConnectionLostError> {
  const tag = randomBytes(16).toString('hex');
  const collector = new OutputCollector(pod.maxOutputBytes, options.onOutput);
  let scriptMessage: string | undefined;
  let opened = false;
  const started = Date.now();
  const wallClock = new AbortController();
  const timer = setTimeout(
    () => wallClock.abort(new Error('wall-clock timeout')),
    pod.timeout * 1000 + wallClockSlackMs,
  );
  const stop = options.signal
    ? AbortSignal.any([options.signal, wallClock.signal])
    : wallClock.signal;
  try {
    const { exitCode } = await pod.exec.run({
      namespace: pod.namespace,
      pod: pod.name,
      container: pod.container,
      command: taggedShell(tag, script, argv),
      ...(stdin ? { stdin } : {}),
      signal: stop,
      onOpen: () => {
        opened = true;
        pod.connection.reached();
      },
      onStdout: (chunk) => collector.push('stdout', chunk),
      onStderr: (chunk) => {
        const text = chunk.toString('utf8');
        if (scriptMessage === undefined && text.startsWith(scriptMarker)) {
          scriptMessage = text.slice(scriptMarker.length).trim();
        } else {
          collector.push('stderr', chunk);
        }
      },
    });
    if (scriptMessage !== undefined && Object.values(exitCodes).includes(exitCode as never)) {
      if (exitCode === exitCodes.outsideWorkspace) {
        return { exitCode: 1, output: 'Filename is not in the workspace', ranCode: false };
      }
      return {
        exitCode: exitCode === exitCodes.missingInterpreter ? 127 : 1,
        output: `${collector.finish()}${scriptMessage}`,
        ranCode: false,
      };
    }
    // GNU timeout exits 124; busybox's runs the code in its own place, so the code ends by the
    // signal itself (SIGTERM, or SIGKILL after -k, as with GNU timeout when the code ignores TERM).
    const killedBySignal = exitCode === 137 || exitCode === 143;
    const timedOut =
      exitCode === 124 || (killedBySignal && Date.now() - started >= pod.timeout * 1000);
    if (timedOut) {
      collector.note(timeoutText);
    }
    return { exitCode: timedOut ? 124 : exitCode, output: collector.finish(), ranCode: true };
  } catch (error) {
    if (!stop.aborted) {
      if (!(error instanceof ConnectionLostError)) {
        throw error;
      }
      if (!opened) {
        return error;
      }
      throw await stopInterrupted(pod, tag, error, collector.finish(), {
        until: started + pod.timeout * 1000 + wallClockSlackMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    }
    const kill = await killBlock(pod, tag);
    const unconfirmed = kill.confirmed ? '' : kill.line;
    if (wallClock.signal.aborted && !(options.signal?.aborted ?? false)) {
      collector.note(`${unconfirmed}${timeoutText}`);
      return { exitCode: 124, output: collector.finish(), ranCode: true };
    }
    return {
      exitCode: 1,
      output: `${collector.finish()}${unconfirmed}${cancelledText}`,
      ranCode: true,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes the functions module, installs its packages and imports it once to validate it. */
export async function setUpFunctions(
  pod: ExecutorContainer,
  functions: FunctionWithRequirements[],
  functionsModule: string,
): Promise<void> {
  // Each command runs under `timeout` in the pod; the client's deadline is a little longer, so an
  // API server that stops answering fails the setup instead of hanging it.
  const run = async (command: string[], limitSeconds: number, stdin?: Buffer) => {
    const collector = new OutputCollector(pod.maxOutputBytes);
    const deadlineMs = limitSeconds * 1000 + setupSlackMs;
    const deadline = AbortSignal.timeout(deadlineMs);
    try {
      const { exitCode } = await pod.exec.run({
        namespace: pod.namespace,
        pod: pod.name,
        container: pod.container,
        command,
        ...(stdin ? { stdin } : {}),
        signal: deadline,
        onStdout: (chunk) => collector.push('stdout', chunk),
        onStderr: (chunk) => collector.push('stderr', chunk),
      });
      return { exitCode, output: collector.finish() };
    } catch (error) {
      if (deadline.aborted) {
        throw new FunctionsSetupError(
          `setting up the functions module did not finish within ${deadlineMs / 1000} s in pod ${pod.name}`,
        );
      }
      throw error;
    }
  };
  const module = Buffer.from(buildFunctionsModule(functions));
  const file = `${functionsModule}.py`;
  const written = await run(
    taggedShell(randomBytes(16).toString('hex'), runBlockScript, [
      String(module.length),
      pod.workspacePath,
      file,
      String(pod.timeout),
      '',
      '',
      '0',
    ]),
    pod.timeout,
    module,
  );
  if (written.exitCode !== 0) {
    throw new FunctionsSetupError(
      `writing the functions module ${file} failed (exit ${written.exitCode}): ${written.output.replace(scriptMarker, '')}`,
    );
  }
  const packages = requiredPackages(functions);
  if (packages.length > 0) {
    const installLimit = Math.max(pod.timeout, 300);
    const installed = await run(
      ['timeout', String(installLimit), 'python', '-m', 'pip', 'install', '-qqq', ...packages],
      installLimit,
    );
    if (installed.exitCode !== 0) {
      throw new FunctionsSetupError(
        `pip install ${packages.join(' ')} failed (exit ${installed.exitCode}):\n${installed.output}`,
      );
    }
  }
  const imported = await run(
    [
      'timeout',
      String(pod.timeout),
      'python',
      '-c',
      'import importlib, sys; sys.path.insert(0, sys.argv[1]); importlib.import_module(sys.argv[2])',
      pod.workspacePath,
      functionsModule,
    ],
    pod.timeout,
  );
  if (imported.exitCode !== 0) {
    throw new FunctionsSetupError(
      `the functions module ${file} failed to import:\n${imported.output}`,
    );
  }
}
