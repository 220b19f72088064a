import { open } from 'node:fs/promises';
import { extname, isAbsolute, posix, resolve } from 'node:path';
import { runTagged, type ExecuteOptions, type ExecutorContainer } from './codeBlockRun.ts';
import { runtimeFor, type CommandLineCodeResult, type LanguageRuntime } from './codeBlocks.ts';
import { OptionError } from './errors.ts';
import { mappingHolding, resultMappings, type PathMapping } from './pathMapping.ts';
import { runFileScript } from './podScripts.ts';

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
 * local path in a synced folder, absolute or relative to the folder's root.
 */
export async function runSyncedFile(
  pod: ExecutorContainer,
  file: string,
  folders: readonly PathMapping[],
  options: RunFileOptions,
): Promise<CommandLineCodeResult> {
  const { folder, localFile, remoteFile } = locate(file, folders, options.root);
  const env = Object.entries(options.env ?? {});
  for (const [name, value] of env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || value.includes('\0')) {
      throw new OptionError('env', `${JSON.stringify(name)} is not a valid variable to pass`);
    }
  }
  const args = options.args ?? [];
  if (args.some((arg) => arg.includes('\0'))) {
    throw new OptionError('args', 'an argument cannot contain a NUL character');
  }
  const roots = options.importRoots ?? [folder.remote];
  const assignments = env.map(([name, value]) =>
    // The program's own PYTHONPATH keeps the import roots first.
    name === 'PYTHONPATH' && roots.length > 0
      ? `${name}=${[...roots, value].join(':')}`
      : `${name}=${value}`,
  );
  const runtime = await runtimeOfFile(localFile);
  const outcome = await runTagged(
    pod,
    runFileScript,
    [
      options.cwd === 'file' ? posix.dirname(remoteFile) : folder.remote,
      roots.join(':'),
      String(pod.timeout),
      remoteFile,
      runtime?.interpreters.join(' ') ?? '',
      String(args.length),
      ...args,
      ...assignments,
    ],
    options,
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
    pathMappings: resultMappings(folders, undefined, undefined),
  };
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
  const localFile = isAbsolute(file) ? file : resolve(candidates[0]!.local, file);
  const found = mappingHolding(localFile, candidates);
  if (!found || found.rest === '' || found.rest.split('/').includes('..')) {
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

/** The file's first line (up to 256 bytes); '' when it cannot be read locally. */
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
  } catch {
    return '';
  }
}
