import { lstatSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { walkLocalTree, type LocalEntry, type LocalTree, type WalkOptions } from './localTree.ts';

/**
 * Past this many folders a tree is walked at every sync instead: OS watches are a per-user budget
 * the editor's own file watcher draws on too.
 */
export const maxWatchedFolders = 4096;

/**
 * Where a write's change event is queued before the write returns (inotify): elsewhere the OS
 * may deliver it later than a sync that follows the write, so the folder is walked every time.
 */
export const watchSupported = process.platform === 'linux';

export interface CheckedTree {
  tree: LocalTree;
  /** Local files looked at for changes: all of them after a walk, the changed ones otherwise. */
  checked: number;
  /**
   * Files written since the last sync, as their watches reported: compared by content even when
   * size and mtime look the same (two writes within one tick of the file system's clock).
   */
  written: ReadonlySet<string>;
}

/** The local folders of one sync engine: each watched where the OS allows, else walked each time. */
export class LocalTrees {
  private readonly trees = new Map<string, WatchedTree>();

  /** The folder's tree now; an injected file system is walked every time (it cannot be watched). */
  current(localDir: string, options: WalkOptions): Promise<CheckedTree> {
    if (options.fileSystem || !watchSupported) {
      return walkLocalTree(localDir, options).then((tree) => ({
        tree,
        checked: tree.entries.length,
        written: new Set<string>(),
      }));
    }
    let watched = this.trees.get(localDir);
    if (!watched?.sameWalk(options)) {
      watched?.close();
      watched = new WatchedTree(localDir, options);
      this.trees.set(localDir, watched);
    }
    return watched.current();
  }

  close(): void {
    for (const tree of this.trees.values()) {
      tree.close();
    }
    this.trees.clear();
  }
}

/**
 * A synced folder's tree kept current by the OS's change events, one watch per folder the walk
 * read: a later sync looks again only at the files written since, instead of every file.
 *
 * Only in-place writes of files the tree holds are followed one by one. Anything else (a file
 * created, deleted or renamed, a .gitignore edited, an ignore file above the root changed, a
 * watch failing) makes the next sync walk the whole folder again, so a missed subtlety can only
 * cost time, never a stale file in the pod.
 */
export class WatchedTree {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly changed = new Set<string>();
  private readonly outsideIgnoreFiles = new Map<string, string>();
  private tree: LocalTree | undefined;
  private positions = new Map<string, number>();
  /** Whether the changes since the walk are known file by file. */
  private followed = false;
  /** False once watching failed for good (too many folders, no watch left in the OS budget). */
  private watchable = true;

  constructor(
    private readonly root: string,
    private readonly walkOptions: WalkOptions,
  ) {}

  /** Whether the folder is walked with the same rules and limits. */
  sameWalk(options: WalkOptions): boolean {
    return (
      options.maxFileBytes === this.walkOptions.maxFileBytes &&
      JSON.stringify(options.exclude ?? []) === JSON.stringify(this.walkOptions.exclude ?? [])
    );
  }

  /** The tree as it is now: from the change events when they say it all, else from a walk. */
  async current(): Promise<CheckedTree> {
    // The events of writes made before this call are queued in the kernel already. Two turns of
    // the event loop put a poll of the queue between the call and the check: one is not enough
    // when the call comes from an I/O callback, whose poll read the queue before the write.
    await nextTurn();
    await nextTurn();
    return this.fromEvents() ?? (await this.walk());
  }

  close(): void {
    this.watchable = false;
    this.unfollow();
  }

  private fromEvents(): CheckedTree | undefined {
    if (!this.followed || !this.tree || this.outsideIgnoreFilesChanged()) {
      return undefined;
    }
    const paths = [...this.changed];
    this.changed.clear();
    const entries = [...this.tree.entries];
    for (const path of paths) {
      const position = this.positions.get(path);
      const known = position === undefined ? undefined : entries[position];
      const now = known?.kind === 'file' ? this.fileNow(known.path) : undefined;
      if (!now) {
        return undefined;
      }
      entries[position!] = now;
    }
    this.tree = { ...this.tree, entries };
    return {
      tree: { ...this.tree, skipped: [...this.tree.skipped] },
      checked: paths.length,
      written: new Set(paths),
    };
  }

  /** A file of the tree as lstat sees it now, unless it is no longer a file the walk would send. */
  private fileNow(path: string): LocalEntry | undefined {
    try {
      const stats = lstatSync(join(this.root, path));
      if (!stats.isFile() || stats.size > this.walkOptions.maxFileBytes) {
        return undefined;
      }
      return {
        kind: 'file',
        path,
        size: stats.size,
        mtimeMs: stats.mtimeMs,
        mode: stats.mode & 0o7777,
      };
    } catch {
      return undefined;
    }
  }

  private async walk(): Promise<CheckedTree> {
    this.followed = this.watchable;
    this.tree = undefined;
    this.changed.clear();
    this.outsideIgnoreFiles.clear();
    const seen = new Set<string>();
    const tree = await walkLocalTree(this.root, {
      ...this.walkOptions,
      onFolder: (absolute, relative) => {
        seen.add(relative);
        this.watchFolder(absolute, relative);
      },
      onOutsideIgnoreFile: (absolute) =>
        this.outsideIgnoreFiles.set(absolute, signatureOf(absolute)),
    });
    for (const [relative, watcher] of this.watchers) {
      if (!seen.has(relative)) {
        watcher.close();
        this.watchers.delete(relative);
      }
    }
    this.tree = tree;
    this.positions = new Map(tree.entries.map((entry, index) => [entry.path, index]));
    return {
      tree: { ...tree, skipped: [...tree.skipped] },
      checked: tree.entries.length,
      written: new Set(),
    };
  }

  /** Starts watching a folder before the walk reads it; a failure leaves the tree unfollowed. */
  private watchFolder(absolute: string, relative: string): void {
    if (!this.followed || this.watchers.has(relative)) {
      return;
    }
    if (this.watchers.size >= maxWatchedFolders) {
      this.watchable = false;
      this.unfollow();
      return;
    }
    try {
      const watcher = watch(absolute, { persistent: false }, (event, name) =>
        this.onEvent(relative, event, name),
      );
      // A watch that breaks later (its folder gone, the queue overflowed) costs one walk.
      watcher.on('error', () => this.unfollow());
      this.watchers.set(relative, watcher);
    } catch {
      this.watchable = false;
      this.unfollow();
    }
  }

  private onEvent(folder: string, event: string, name: string | null): void {
    if (event !== 'change' || !name || name === '.gitignore') {
      this.followed = false;
      return;
    }
    this.changed.add(folder === '' ? name : `${folder}/${name}`);
  }

  /** Stops following: the watches go, and every sync walks until a walk can watch again. */
  private unfollow(): void {
    this.followed = false;
    for (const watcher of this.watchers.values()) {
      watcher.close();
    }
    this.watchers.clear();
  }

  private outsideIgnoreFilesChanged(): boolean {
    for (const [path, signature] of this.outsideIgnoreFiles) {
      if (signatureOf(path) !== signature) {
        return true;
      }
    }
    return false;
  }
}

/** Enough of a file's stat to notice an edit: size, mtime, inode; "none" when it is absent. */
function signatureOf(path: string): string {
  try {
    const stats = lstatSync(path);
    return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  } catch {
    return 'none';
  }
}
