import { open } from 'node:fs/promises';
import { extname, isAbsolute, posix, resolve } from 'node:path';
import { runTagged, type ExecuteOptions, type ExecutorContainer } from './codeBlockRun.ts';
import { runtimeFor, type CommandLineCodeResult, type LanguageRuntime } from './codeBlocks.ts';
import { OptionError } from './errors.ts';
import { mappingHolding, resultMappings, type PathMapping } from './pathMapping.ts';
import { runFileScript } from './podScripts.ts';
import type { WarmRuntime } from './warmRuntime/warmRuntime.ts';

export interface RunFileOptions extends Omit<ExecuteOptions, 'source'> {
  /** The program's arguments, passed exactly as given (never through a shell). */
  args?: string[];
  /**
   * 'root' (default): the synced folder's root in the pod, as `python app/main.py` would run
   * locally from the root; 'file': the file's own folder.
   */
  cwd?: 'root' | 'file';
  /** Variables added to the program's environment, exactly as given. */
  env?: Record<string, string>;
  /** The local folder the file belongs to, when several are synced. */
  root?: string;
}

const languageByExtension: Record<string, string> = {
  '.py': 'python',
  '.sh': 'sh',
  '.bash': 'bash',
  '.ps1': 'pwsh',
};

/**
 * Runs a file of a synced folder in place in the pod, by its language (its shebang, else its
 * extension; a file with neither runs itself), with the folder's root importable. `file` is a
 * local path in a synced folder, absolute or relative to the folder's root. It runs on the
 * executor's warm runtime when that is up (no exec of its own), else through an exec.
 */
export async function runSyncedFile(
  pod: ExecutorContainer,
  file: string,
  folders: readonly PathMapping[],
  options: RunFileOptions,
  warm: WarmRuntime,
): Promise<CommandLineCodeResult> {
  if (options.cwd !== undefined && options.cwd !== 'root' && options.cwd !== 'file') {
    throw new OptionError('cwd', `must be 'root' or 'file', got ${JSON.stringify(options.cwd)}`);
  }
  const { folder, localFile, remoteFile } = locate(file, folders, options.root);
  const runtime = await runtimeOfFile(localFile);
  const roots = options.importRoots ?? [folder.remote];
  const args = options.args ?? [];
  if (args.some((arg) => arg.includes('\0'))) {
    throw new OptionError('args', 'an argument cannot contain a NUL character');
  }
  const dir = options.cwd === 'file' ? posix.dirname(remoteFile) : folder.remote;
  const interpreters = runtime?.interpreters ?? [];
  const assigned = assignments(options.env ?? {}, roots);
  const pathMappings = resultMappings(folders, undefined, undefined);
  options.onPathMappings?.(pathMappings);
  const outcome = await warm.runFile(
    pod,
    {
      workspace: pod.workspacePath,
      name: remoteFile,
      dir,
      roots,
      remove: false,
      // Variables read at interpreter start (PYTHONPATH, PYTHONHASHSEED...) need a fresh one.
      inProcess:
        runtime?.name === 'python' &&
        !assigned.some((assignment) => assignment.startsWith('PYTHON')),
      interpreters,
      file: { path: remoteFile, args, assignments: assigned },
    },
    options,
    () =>
      runTagged(
        pod,
        runFileScript,
        [
          dir,
          roots.join(':'),
          String(pod.timeout),
          remoteFile,
          interpreters.join(' '),
          String(args.length),
          ...args,
          ...assigned,
        ],
        options,
      ),
  );
  return {
    exitCode: outcome.exitCode,
    output: outcome.ranCode
      ? outcome.output
      : outcome.output.replace(
          `${remoteFile} is not in the pod`,
          `${localFile} is not in the pod (${remoteFile})`,
        ),
    codeFile: remoteFile,
    pathMappings,
  };
}

/** `NAME=VALUE` for `env`; a PYTHONPATH given keeps the import roots first. */
function assignments(env: Record<string, string>, roots: string[]): string[] {
  return Object.entries(env).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || value.includes('\0')) {
      throw new OptionError('env', `${JSON.stringify(name)} is not a variable that can be passed`);
    }
    return name === 'PYTHONPATH' && roots.length > 0
      ? `${name}=${[...roots, value].join(':')}`
      : `${name}=${value}`;
  });
}

/** The synced folder holding `file`, and the file's local and remote paths. */
function locate(
  file: string,
  folders: readonly PathMapping[],
  root: string | undefined,
): { folder: PathMapping; localFile: string; remoteFile: string } {
  if (folders.length === 0) {
    throw new OptionError('file', `cannot run ${file}: no folder is synced to the pod yet`);
  }
  let candidates = folders;
  if (root !== undefined) {
    candidates = folders.filter((folder) => mappingHolding(root, [folder])?.rest === '');
    if (candidates.length === 0) {
      throw new OptionError('root', `${root} is not a folder synced to the pod`);
    }
  } else if (!isAbsolute(file) && folders.length > 1) {
    throw new OptionError(
      'root',
      `${file} is relative and several folders are synced: say which one with root`,
    );
  }
  const localFile = resolve(candidates[0]!.local, file);
  const found = mappingHolding(localFile, candidates);
  if (!found || found.rest === '') {
    throw new OptionError(
      'file',
      `${file} is not in a folder synced to the pod (${candidates.map((f) => f.local).join(', ')})`,
    );
  }
  return {
    folder: found.mapping,
    localFile,
    remoteFile: posix.join(found.mapping.remote, found.rest),
  };
}

/**
 * The runtime named by the file's shebang (`#!/usr/bin/env python3`, `#!/bin/bash`), else by its
 * extension; undefined when neither says (the file then runs itself).
 */
async function runtimeOfFile(localFile: string): Promise<LanguageRuntime | undefined> {
  const firstLine = await readFirstLine(localFile);
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(firstLine);
  if (shebang) {
    const program = posix.basename(shebang[1]!);
    const named = program === 'env' ? shebang[2] : program;
    const runtime = named && runtimeFor(named.replace(/[\d.]+$/, ''));
    if (runtime) {
      return runtime;
    }
  }
  const language = languageByExtension[extname(localFile).toLowerCase()];
  return language ? runtimeFor(language) : undefined;
}

/** The file's first line (up to 256 bytes); a file that is not there locally is an error. */
async function readFirstLine(path: string): Promise<string> {
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(256);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead).toString('utf8').split('\n', 1)[0] ?? '';
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a folder'
          : `cannot be read (${(error as Error).message})`;
    throw new OptionError('file', `${path} ${reason}`);
  }
}
