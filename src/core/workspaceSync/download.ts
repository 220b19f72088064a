import {
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { SyncError } from '../errors.ts';
import { SentStreamParser, type SentStreamSink } from './framing.ts';
import { isInside } from './paths.ts';
import type { PodProgramRunner } from './podProgramRunner.ts';
import { pythonSender } from './podPrograms.ts';
import { shFileReader, shSenderLister } from './shPrograms.ts';
import type { DownloadOptions, DownloadResult, SkippedPath } from './types.ts';

/**
 * Copies a file or folder from the pod into `localDir` (as `localDir/<its name>`), in one exec
 * (over sh, one more per file). Each file is written as its bytes arrive, so memory stays
 * bounded; every path must stay inside localDir, symlinks included.
 */
export async function downloadFromPod(
  programs: PodProgramRunner,
  remotePath: string,
  localDir: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  if (!posix.isAbsolute(remotePath)) {
    throw new SyncError(`the path in the pod must be absolute, got "${remotePath}"`, remotePath);
  }
  const failed = (detail: string, cause?: unknown) =>
    new SyncError(
      `could not download ${remotePath} from pod ${programs.target.pod}: ${detail}`,
      remotePath,
      { cause },
    );
  const target = resolve(localDir);
  mkdirSync(target, { recursive: true });
  const writer = new DownloadWriter(realpathSync.native(target));
  const skipped: SkippedPath[] = [];
  /** Runs a program whose output goes to `onStdout`; a refusal or a parse error stops it. */
  const run = async (
    sh: string,
    path: string,
    onStdout: (chunk: Buffer) => void,
    onInterpreter?: (kind: 'python' | 'sh') => void,
  ) => {
    let problem: Error | undefined;
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const outcome = await programs
      .run(
        { python: pythonSender, sh },
        {
          args: [path],
          onStdout: (chunk) => {
            try {
              if (!problem) {
                onStdout(chunk);
              }
            } catch (error) {
              problem = error instanceof Error ? error : new Error(String(error));
              stop.abort(problem);
            }
          },
          onExec: () => undefined,
          ...(onInterpreter ? { onInterpreter } : {}),
          signal,
          ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
        },
      )
      .catch((error: unknown) => {
        if (problem) {
          throw problem;
        }
        if (options.signal?.aborted) {
          throw error;
        }
        throw failed(error instanceof Error ? error.message : String(error), error);
      });
    if (problem) {
      throw problem;
    }
    return outcome;
  };
  try {
    const parser = new SentStreamParser(writer);
    const listing: Buffer[] = [];
    let overSh = false;
    const sent = await run(
      shSenderLister,
      remotePath,
      // Python streams the records; sh (its reader line already taken) lists the names.
      (chunk) => (overSh ? listing.push(chunk) : parser.push(chunk)),
      (kind) => (overSh = kind === 'sh'),
    );
    if (sent.interpreter === 'python') {
      parser.end();
    } else {
      await readOverSh(Buffer.concat(listing), remotePath, skipped, writer, (path, sink) =>
        run(shFileReader, path, sink).then(() => undefined),
      );
    }
    writer.checkSymlinks();
  } catch (error) {
    writer.discard();
    if (error instanceof SyncError || options.signal?.aborted) {
      throw error;
    }
    throw failed(error instanceof Error ? error.message : String(error), error);
  }
  const name = posix.basename(remotePath.replace(/\/+$/, '')) || '.';
  return { localPath: join(target, name), files: writer.files, bytes: writer.bytes, skipped };
}

/** The sh lister's names, each file read by an exec of its own and written as it arrives. */
async function readOverSh(
  listing: Buffer,
  remotePath: string,
  skipped: SkippedPath[],
  writer: DownloadWriter,
  read: (path: string, onStdout: (chunk: Buffer) => void) => Promise<void>,
): Promise<void> {
  const base = posix.dirname(remotePath === '/' ? '/' : remotePath.replace(/\/+$/, ''));
  for (const item of listing.toString('utf8').split('\0')) {
    if (item === 'end') {
      return;
    }
    if (item.startsWith('X ')) {
      throw new Error(`${remotePath}: ${item.slice(2)}`);
    }
    const path = posix.relative(base, item.slice(2));
    if (item.startsWith('d ')) {
      writer.folder(path);
    } else if (item.startsWith('l ')) {
      skipped.push({ path, reason: 'a symlink: the pod has no Python to read its target' });
    } else if (item.startsWith('f ') || item.startsWith('x ')) {
      writer.fileStart(path, item.startsWith('x ') ? 0o755 : 0o644);
      await read(item.slice(2), (chunk) => writer.fileData(chunk));
      writer.fileEnd();
    }
  }
  throw new Error('the listing from the pod ended early');
}

/** Writes what the pod sends under `root`, refusing every path that would leave it. */
class DownloadWriter implements SentStreamSink {
  files = 0;
  bytes = 0;
  private file: { fd: number; temporary: string; local: string; mode: number } | undefined;
  private readonly symlinks: { path: string; local: string }[] = [];

  constructor(private readonly root: string) {}

  folder(path: string): void {
    mkdirSync(this.local(path), { recursive: true });
  }

  symlink(path: string, target: string): void {
    const local = this.local(path);
    if (!isInside(this.root, resolve(dirname(local), target))) {
      throw this.outside(path, 'the symlink', 'it points outside');
    }
    const temporary = this.temporaryFor(local);
    symlinkSync(target, temporary);
    renameSync(temporary, local);
    this.symlinks.push({ path, local });
  }

  fileStart(path: string, mode: number): void {
    const local = this.local(path);
    const temporary = this.temporaryFor(local);
    this.file = { fd: openSync(temporary, 'wx', 0o600), temporary, local, mode };
  }

  fileData(piece: Buffer): void {
    const file = this.file!;
    for (let offset = 0; offset < piece.length;) {
      offset += writeSync(file.fd, piece, offset);
    }
    this.bytes += piece.length;
  }

  fileEnd(): void {
    const file = this.file!;
    fchmodSync(file.fd, file.mode);
    closeSync(file.fd);
    this.file = undefined;
    renameSync(file.temporary, file.local);
    this.files++;
  }

  /**
   * Links are checked one by one as they come, but a later link can make an earlier one leave
   * the folder (`b -> .` after `a -> b/../..`): once all exist, their real paths must stay in.
   */
  checkSymlinks(): void {
    for (const { path, local } of this.symlinks) {
      const real = realpathOrUndefined(local);
      if (real !== undefined && !isInside(this.root, real)) {
        unlinkSync(local);
        throw this.outside(path, 'the symlink', 'it leads outside');
      }
    }
  }

  /** After a failure: the half-written file goes. */
  discard(): void {
    if (this.file) {
      closeSync(this.file.fd);
      rmSync(this.file.temporary, { force: true });
      this.file = undefined;
    }
  }

  /** The local path of a path from the pod, in a real folder inside the root (created). */
  private local(path: string): string {
    const local = resolve(this.root, path);
    if (path === '' || isAbsolute(path) || local === this.root || !isInside(this.root, local)) {
      throw this.outside(path, '', 'it would be written outside');
    }
    mkdirSync(dirname(local), { recursive: true });
    // A symlink written earlier must not carry a later path outside the folder.
    if (!isInside(this.root, realpathSync.native(dirname(local)))) {
      throw this.outside(path, '', 'it would be written outside');
    }
    return local;
  }

  private temporaryFor(local: string): string {
    const temporary = join(dirname(local), `.podrunner-download.${process.pid}.tmp`);
    rmSync(temporary, { force: true });
    return temporary;
  }

  private outside(path: string, what: string, why: string): SyncError {
    const named = what ? `${what} "${path}"` : `"${path}"`;
    return new SyncError(`refusing ${named} from the pod: ${why} ${this.root}`, path);
  }
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}
