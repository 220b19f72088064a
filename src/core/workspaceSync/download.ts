import { chmod, mkdir, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';
import { SyncError } from '../errors.ts';
import { parseSentStream, type SentRecord } from './framing.ts';
import type { PodProgramRunner } from './podProgramRunner.ts';
import { pythonSender } from './podPrograms.ts';
import type { DownloadResult } from './types.ts';

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
  const chunks: Buffer[] = [];
  const outcome = await programs
    .run(
      { python: pythonSender, sh: shDownloadUnsupported },
      {
        args: [remotePath],
        onStdout: (chunk) => chunks.push(chunk),
        onExec: () => undefined,
        ...(options.signal ? { signal: options.signal } : {}),
      },
    )
    .catch((error: unknown) => {
      if (options.signal?.aborted) {
        throw error;
      }
      throw new SyncError(
        `could not download ${remotePath} from pod ${pod}: ${error instanceof Error ? error.message : String(error)}`,
        remotePath,
        { cause: error },
      );
    });
  if (outcome.interpreter === 'sh') {
    throw new SyncError(
      `could not download ${remotePath} from pod ${pod}: Download from Pod needs python3 or python in the container`,
      remotePath,
    );
  }
  let records: SentRecord[];
  try {
    records = parseSentStream(Buffer.concat(chunks));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new SyncError(
      `could not download ${remotePath} from pod ${pod}: ${message}${outcome.stderr ? `: ${outcome.stderr.trim()}` : ''}`,
      remotePath,
    );
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
  return { localPath: join(target, name), files, bytes };
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

const shDownloadUnsupported = 'exit 0';
