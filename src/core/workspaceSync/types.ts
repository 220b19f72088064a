import type { LocalFileSystem } from './localTree.ts';

/** The public shapes of workspace sync and Download from Pod. */

export interface SyncProgress {
  /** Files the pod has confirmed so far. */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** Files this sync sends. */
  total: number;
}

export interface SkippedPath {
  /** Relative to the synced folder, POSIX separators. */
  path: string;
  reason: string;
}

export interface SyncOptions {
  /** Default `<workspacePath>/<folder name>`. */
  remoteRoot?: string;
  /** gitignore-syntax patterns, applied like a top-level .gitignore. */
  exclude?: string[];
  /** Larger files are skipped and reported; default 50 MiB. */
  maxFileBytes?: number;
  /**
   * List and hash what the pod holds first, so only what differs travels (over sh, which cannot
   * hash, everything is sent again). A first sync of a root compares too, within its one exec:
   * the receiver lists the root before it writes, and what the folder lacks is deleted.
   */
  verify?: boolean;
  signal?: AbortSignal;
  /** A sync that hears nothing from the pod for this long fails with a SyncError; default 60 s. */
  idleTimeoutMs?: number;
  onProgress?: (progress: SyncProgress) => void;
  /** The local file calls; default node:fs (tests inject faults through it). */
  fileSystem?: LocalFileSystem;
}

export interface SyncResult {
  /** The absolute local folder. */
  localDir: string;
  /** The remote root. */
  root: string;
  sent: number;
  deleted: number;
  unchanged: number;
  bytes: number;
  ms: number;
  skipped: SkippedPath[];
  /**
   * Programs this sync ran in the pod (0 when nothing changed): each an exec of its own, or a run
   * over the executor's open warm-runtime stream, which makes no API request of its own.
   */
  apiCalls: number;
  /**
   * Local files looked at for changes: every file when the folder was walked (the first sync,
   * or after a file was created, deleted or renamed, or an ignore file changed), otherwise only
   * the files written since the last sync, as the folder's watches reported them.
   */
  checked: number;
  /**
   * The program that wrote the files in the pod (the last batch's, when there were several):
   * `python`, or `sh` with the tool that reads exactly N bytes (`sh head`, `sh dd`,
   * `sh dd bs=1`); absent when nothing was sent. Where python is used, a sync of a few small
   * files runs sh if the pod has it: sh starts several times faster.
   */
  receiver?: string;
}

export interface SyncedFolder {
  local: string;
  remote: string;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** A download that hears nothing from the pod for this long fails; default 60 s. */
  idleTimeoutMs?: number;
}

export interface DownloadResult {
  /** The local file or folder written. */
  localPath: string;
  files: number;
  bytes: number;
  /** What could not be copied (over sh: symlinks), with the reason. */
  skipped: SkippedPath[];
}

export const defaultMaxFileBytes = 50 * 1024 * 1024;
