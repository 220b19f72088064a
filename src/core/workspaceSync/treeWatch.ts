import { lstatSync, readFileSync, statfsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  fileEntryOf,
  walkLocalTree,
  type LocalEntry,
  type LocalTree,
  type WalkOptions,
} from './localTree.ts';

/**
 * The watches all synced folders of this process may hold together; past it a folder is walked
 * at every sync instead: OS watches are a per-user budget the editor's own watcher draws on too.
 */
export const maxWatchedFolders = 4096;
let watchesHeld = 0;

/**
 * Where a write's change event is queued before the write returns (inotify): elsewhere the OS
 * may deliver it later than a sync that follows the write, so the folder is walked every time.
 */
export const watchSupported = process.platform === 'linux';

/**
 * The kernel queues at most max_queued_events events and then drops the rest, with an overflow
 * notice that Node never passes on. Events are counted as they arrive: once half that many came
 * since a walk, one may have been dropped, and the next sync walks.
 */
const eventsBeforeWalk = Math.floor(maxQueuedEvents() / 2);
let eventsDelivered = 0;

/**
 * File systems whose changes made elsewhere raise no inotify event (network, FUSE, 9p as WSL's
 * /mnt/c): NFS, SMB, CIFS, SMB2, FUSE, 9p, Ceph, AFS, Coda.
 */
const unwatchedFileSystems = new Set([
  0x6969, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997, 0x00c36400, 0x5346414f,
  0x73757245,
]);

export interface CheckedTree {
  tree: LocalTree;
  /** Local files looked at for changes: all of them after a walk, the changed ones otherwise. */
  checked: number;
  /**
   * Files written since the last sync that completed, as their watches reported: compared by
   * content even when size and mtime look the same (two writes within one tick of the file
   * system's clock).
   */
  written: ReadonlySet<string>;
  /** Called once the sync of this tree completed: its written files are in the pod. */
  settle: () => void;
  /**
   * Present when the tree came from change events rather than a walk: the tree handed out
   * before this one, and the entries that can differ from it (written files, hard links).
   */
  since?: { tree: LocalTree; entries: LocalEntry[] };
}

/** The local folders of one sync engine: each watched where the OS allows, else walked each time. */
export class LocalTrees {
  private readonly trees = new Map<string, WatchedTree>();
  private closed = false;

  /**
   * The folder's tree now; an injected file system (which cannot be watched), and any folder
   * after close(), is walked every time.
   */
  current(localDir: string, options: WalkOptions): Promise<CheckedTree> {
    if (options.fileSystem || !watchSupported || this.closed) {
      return walkLocalTree(localDir, options).then((tree) => ({
        tree,
        checked: tree.entries.length,
        written: new Set<string>(),
        settle: () => undefined,
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
    this.closed = true;
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
 * Only in-place writes of files the tree holds are followed one by one (and files with other
 * names are looked at every time: a write through another name raises no event for theirs).
 * Anything else (a file created, deleted or renamed, a .gitignore edited, an ignore file above
 * the root changed, a watch failing, so many events that the kernel may have dropped some, a
 * folder on a network or FUSE file system) makes the next sync walk the whole folder again.
 */
export class WatchedTree {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly changed = new Set<string>();
  /** Written files no completed sync has sent yet (a cancelled or failed one keeps them here). */
  private readonly written = new Set<string>();
  /** Files with other names (hard links), looked at at every sync. */
  private linked: string[] = [];
  /** eventsDelivered when the last walk began. */
  private eventsAtWalk = 0;
  private readonly outsideIgnoreFiles = new Map<string, string>();
  private tree: LocalTree | undefined;
  /** The tree the last call handed out. */
  private handedOut: LocalTree | undefined;
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
    if (
      !this.followed ||
      !this.tree ||
      eventsDelivered - this.eventsAtWalk >= eventsBeforeWalk ||
      this.outsideIgnoreFilesChanged()
    ) {
      return undefined;
    }
    const paths = new Set([...this.changed, ...this.linked]);
    for (const path of this.changed) {
      this.written.add(path);
    }
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
    const before = this.handedOut;
    const checked = this.checked(this.tree, paths.size);
    if (before) {
      // A written path the tree no longer has was removed, which made a walk: not one to recheck.
      const positions = new Set(
        [...this.written, ...this.linked].map((p) => this.positions.get(p)),
      );
      positions.delete(undefined);
      checked.since = {
        tree: before,
        entries: [...positions].map((position) => entries[position!]!),
      };
    }
    return checked;
  }

  /** The tree as a sync gets it, with the written files it must compare by content. */
  private checked(tree: LocalTree, checked: number): CheckedTree {
    const written = new Set(this.written);
    this.handedOut = { ...tree, skipped: [...tree.skipped] };
    return {
      tree: this.handedOut,
      checked,
      written,
      settle: () => written.forEach((path) => this.written.delete(path)),
    };
  }

  /** A file of the tree as lstat sees it now, unless it is no longer a file the walk would send. */
  private fileNow(path: string): LocalEntry | undefined {
    try {
      const stats = lstatSync(join(this.root, path));
      if (!stats.isFile() || stats.size > this.walkOptions.maxFileBytes) {
        return undefined;
      }
      return fileEntryOf(path, stats);
    } catch {
      return undefined;
    }
  }

  private async walk(): Promise<CheckedTree> {
    this.followed = this.watchable;
    this.tree = undefined;
    // What comes from here on is after the walk's read of its folder, or read by the walk.
    this.eventsAtWalk = eventsDelivered;
    for (const path of this.changed) {
      this.written.add(path);
    }
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
        watchesHeld--;
      }
    }
    this.tree = tree;
    this.positions = new Map(tree.entries.map((entry, index) => [entry.path, index]));
    this.linked = tree.entries
      .filter((entry) => entry.kind === 'file' && entry.linked)
      .map((entry) => entry.path);
    return this.checked(tree, tree.entries.length);
  }

  /** Starts watching a folder before the walk reads it; a failure leaves the tree unfollowed. */
  private watchFolder(absolute: string, relative: string): void {
    if (!this.followed || this.watchers.has(relative)) {
      return;
    }
    if (watchesHeld >= maxWatchedFolders || unwatchedFileSystem(absolute)) {
      this.watchable = false;
      this.unfollow();
      return;
    }
    try {
      const watcher = watch(absolute, { persistent: false }, (event, name) =>
        this.onEvent(relative, event, name),
      );
      // A watch that breaks later (its folder gone) costs one walk.
      watcher.on('error', () => this.unfollow());
      this.watchers.set(relative, watcher);
      watchesHeld++;
    } catch {
      this.watchable = false;
      this.unfollow();
    }
  }

  private onEvent(folder: string, event: string, name: string | null): void {
    eventsDelivered++;
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
    watchesHeld -= this.watchers.size;
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

function unwatchedFileSystem(folder: string): boolean {
  try {
    return unwatchedFileSystems.has(statfsSync(folder).type);
  } catch {
    return true;
  }
}

function maxQueuedEvents(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim()) || 16384;
  } catch {
    return 16384;
  }
}
