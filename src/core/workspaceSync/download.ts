import { chmod, mkdir, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';
import { SyncError } from '../errors.ts';
import { parseSentStream, type SentRecord } from './framing.ts';
import type { PodProgram, PodProgramRunner, ProgramOutcome } from './podProgramRunner.ts';
import { pythonSender, shFileReader, shSenderLister } from './podPrograms.ts';
import type { DownloadResult, SkippedPath } from './types.ts';

/**
 * Copies a file or folder from the pod into `localDir` (as `localDir/<its name>`), in one exec.
 * Every path must stay inside localDir, symlinks included.
 */
export async function downloadFromPod(
  programs: PodProgramRunner,
  remotePath: string,
  localDir: string,
  options: { signal?: AbortSignal },
): Promise<DownloadResult> {
  if (!posix.isAbsolute(remotePath)) {
    throw new SyncError(`the path in the pod must be absolute, got "${remotePath}"`, remotePath);
  }
  const pod = programs.target.pod;
  const failed = (detail: string, cause?: unknown) =>
    new SyncError(`could not download ${remotePath} from pod ${pod}: ${detail}`, remotePath, {
      cause,
    });
  const run = async (
    program: PodProgram,
    path: string,
  ): Promise<ProgramOutcome & { out: Buffer }> => {
    const chunks: Buffer[] = [];
    try {
      const outcome = await programs.run(program, {
        args: [path],
        onStdout: (chunk) => chunks.push(chunk),
        onExec: () => undefined,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { ...outcome, out: Buffer.concat(chunks) };
    } catch (error) {
      if (options.signal?.aborted) {
        throw error;
      }
      throw failed(error instanceof Error ? error.message : String(error), error);
    }
  };
  const sent = await run({ python: pythonSender, sh: shSenderLister }, remotePath);
  const skipped: SkippedPath[] = [];
  let records: SentRecord[];
  try {
    records =
      sent.interpreter === 'python'
        ? parseSentStream(sent.out)
        : await readOverSh(sent.out, remotePath, skipped, (path) =>
            run({ python: '', sh: shFileReader }, path).then((outcome) => outcome.out),
          );
  } catch (error) {
    if (error instanceof SyncError) {
      throw error;
    }
    const message = error instanceof Error ? error.message : String(error);
    throw failed(`${message}${sent.stderr ? `: ${sent.stderr.trim()}` : ''}`);
  }
  const target = resolve(localDir);
  await mkdir(target, { recursive: true });
  const realTarget = await realpath(target);
  let files = 0;
  let bytes = 0;
  for (const record of records) {
    const local = insideFolder(realTarget, record.path);
    if (record.kind === 'folder') {
      await mkdir(local, { recursive: true });
      continue;
    }
    await mkdir(dirname(local), { recursive: true });
    // A symlink written earlier must not carry a later file outside the folder.
    if (!within(realTarget, await realpath(dirname(local)))) {
      throw new SyncError(
        `refusing "${record.path}" from the pod: it would be written outside ${realTarget}`,
        record.path,
      );
    }
    const temporary = join(dirname(local), `.podrunner-download.${process.pid}.tmp`);
    await rm(temporary, { force: true });
    if (record.kind === 'symlink') {
      if (!within(realTarget, resolve(dirname(local), record.target))) {
        throw new SyncError(
          `refusing the symlink "${record.path}" from the pod: it points outside ${realTarget}`,
          record.path,
        );
      }
      await symlink(record.target, temporary);
    } else {
      await writeFile(temporary, record.content);
      await chmod(temporary, record.mode);
      files++;
      bytes += record.content.length;
    }
    await rename(temporary, local);
  }
  const name = posix.basename(remotePath.replace(/\/+$/, '')) || '.';
  return { localPath: join(target, name), files, bytes, skipped };
}

/** The sh lister's records, each file read by an exec of its own. */
async function readOverSh(
  listing: Buffer,
  remotePath: string,
  skipped: SkippedPath[],
  read: (path: string) => Promise<Buffer>,
): Promise<SentRecord[]> {
  const base = posix.dirname(remotePath === '/' ? '/' : remotePath.replace(/\/+$/, ''));
  const records: SentRecord[] = [];
  for (const item of listing.toString('utf8').split('\0')) {
    if (item === 'end') {
      return records;
    }
    if (item.startsWith('X ')) {
      throw new Error(`${remotePath}: ${item.slice(2)}`);
    }
    const path = posix.relative(base, item.slice(2));
    if (item.startsWith('d ')) {
      records.push({ kind: 'folder', path });
    } else if (item.startsWith('l ')) {
      skipped.push({ path, reason: 'a symlink: the pod has no Python to read its target' });
    } else if (item.startsWith('f ') || item.startsWith('x ')) {
      const mode = item.startsWith('x ') ? 0o755 : 0o644;
      records.push({ kind: 'file', path, mode, content: await read(item.slice(2)) });
    }
  }
  throw new Error('the listing from the pod ended early');
}

/** The local path of a relative path from the pod; refuses anything that leaves `folder`. */
function insideFolder(folder: string, path: string): string {
  const local = resolve(folder, path);
  if (path === '' || isAbsolute(path) || local === folder || !within(folder, local)) {
    throw new SyncError(
      `refusing "${path}" from the pod: it would be written outside ${folder}`,
      path,
    );
  }
  return local;
}

function within(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}
