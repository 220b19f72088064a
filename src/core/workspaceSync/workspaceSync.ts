import { randomUUID } from 'node:crypto';
import { basename, posix, resolve } from 'node:path';
import { OptionError, SyncError } from '../errors.ts';
import { downloadFromPod } from './download.ts';
import { endRecord, ListingThenLines } from './framing.ts';
import { turnOf } from './abortableTurn.ts';
import { isInside } from './paths.ts';
import {
  nodeFileSystem,
  readFileForSync,
  type LocalEntry,
  type LocalFile,
  type LocalTree,
} from './localTree.ts';
import {
  parsePythonListing,
  parseShListing,
  pathsToDelete,
  sha256,
  unchangedByStat,
  worthHashing,
  type Manifest,
} from './manifest.ts';
import { newRun, type SyncRun } from './syncRun.ts';
import { later, outgoing, StdinFramer, type Outgoing, type Pending } from './outgoing.ts';
import { PodProgramRunner, type PodTarget } from './podProgramRunner.ts';
import { readAhead } from './readAhead.ts';
import { ReceiverAnswers } from './receiverAnswers.ts';
import { LocalTrees } from './treeWatch.ts';
import { pythonLister, pythonReceiver } from './podPrograms.ts';
import { shLister, shReceiver } from './shPrograms.ts';
import {
  defaultMaxFileBytes,
  type DownloadOptions,
  type DownloadResult,
  type SyncedFolder,
  type SyncOptions,
  type SyncResult,
} from './types.ts';

/** Bytes of file content per exec; a larger sync is sent in several batches. */
const batchBytes = 64 * 1024 * 1024;
/**
 * Up to this many records and bytes, sh writes them where it can: each file costs sh two small
 * tools (head, mv), about what python's start-up alone costs for one.
 */
const smallBatchRecords = 3;
const smallBatchBytes = 1024 * 1024;
/** Records are sent in chunks of about this size, so reading, sending and writing overlap. */
const stdinChunkBytes = 1024 * 1024;

/**
 * Mirrors local folders into one pod: the manifest of each remote root says what the pod holds,
 * so only new and changed files travel, in one exec per batch; syncs of the pod run one at a time.
 */
export class WorkspaceSync {
  private readonly programs: PodProgramRunner;
  private readonly manifests = new Map<string, Manifest>();
  private readonly folders = new Map<string, SyncedFolder>();
  /** The local folders' trees, kept current by their watches between syncs. */
  private readonly trees = new LocalTrees();
  /** Per remote root, the tree whose files the pod holds exactly, as the last sync left it. */
  private readonly mirrored = new Map<string, LocalTree>();
  private queue: Promise<unknown> = Promise.resolve();
  /** A file each receiver of this engine finds (or leaves) in the container's /tmp. */
  private readonly marker = `/tmp/.podrunner-pod.${randomUUID()}`;

  constructor(
    target: PodTarget,
    private readonly workspacePath: string,
  ) {
    this.programs = new PodProgramRunner(target);
  }

  get syncedFolders(): readonly SyncedFolder[] {
    return [...this.folders.values()];
  }

  sync(localDir: string, options: SyncOptions = {}): Promise<SyncResult> {
    const previous = this.queue;
    const run = turnOf(previous, options.signal).then(() => this.syncNow(localDir, options));
    // The next sync waits for this one, whatever its outcome (a sync cancelled while it waited
    // ends at once, but its turn still comes after the one before it).
    this.queue = previous.then(() => run).catch(() => undefined);
    return run;
  }

  download(
    remotePath: string,
    localDir: string,
    options: DownloadOptions = {},
  ): Promise<DownloadResult> {
    return downloadFromPod(this.programs, remotePath, localDir, options);
  }

  /** Whether this engine talks to the container `target` names. */
  serves(target: PodTarget): boolean {
    const own = this.programs.target;
    return (
      own.exec === target.exec &&
      own.pod === target.pod &&
      own.namespace === target.namespace &&
      own.container === target.container
    );
  }

  private async syncNow(localDirInput: string, options: SyncOptions): Promise<SyncResult> {
    const started = performance.now();
    options.signal?.throwIfAborted();
    const localDir = resolve(localDirInput);
    const root = options.remoteRoot ?? posix.join(this.workspacePath, basename(localDir));
    if (!posix.isAbsolute(root)) {
      throw new OptionError('remoteRoot', `must be an absolute POSIX path, got "${root}"`);
    }
    this.refuseOverlap(localDir, root);
    const state = newRun(options, root, localDir, this.manifests.get(root));
    // A first sync learns what the root holds from the receiver itself, in its one exec: opened
    // while the walk runs, its records follow once known. `verify` lists and hashes first, so
    // only what differs travels.
    const listFirst = !this.manifests.has(root) && !options.verify;
    const planned = this.plan(state, listFirst);
    const firstBatch = listFirst
      ? this.sendBatch(state, later(planned.then(({ records }) => records)), undefined, true)
      : undefined;
    // Awaited below; a failure meanwhile is not an unhandled rejection.
    firstBatch?.catch(() => undefined);
    // A plan that fails (or a cancel) ends the early exec, and the sync waits until it has.
    const { tree, records, unchanged, checked, settle } = await planned.catch(
      async (error: unknown) => {
        await firstBatch?.catch(() => undefined);
        throw error;
      },
    );
    await this.sendAll(state, records, firstBatch);
    if (listFirst) {
      // What a first sync found in the root that the folder does not have.
      await this.sendAll(state, outgoing(pathsToDelete(state.manifest, tree), [], state));
    }
    if (state.newPod) {
      // Another pod of the same name: what the manifests said is void, so sync it all again.
      this.manifests.clear();
      this.mirrored.clear();
      this.folders.clear();
      const again = await this.syncNow(localDirInput, options);
      return { ...again, apiCalls: again.apiCalls + state.apiCalls };
    }
    settle();
    if (!state.inexact && state.skipped.length === tree.skipped.length) {
      this.mirrored.set(root, tree);
    }
    this.folders.set(localDir, { local: localDir, remote: root });
    return {
      localDir,
      root,
      sent: state.sent,
      deleted: state.deleted,
      unchanged,
      bytes: state.bytes,
      ms: Math.round(performance.now() - started),
      skipped: state.skipped,
      apiCalls: state.apiCalls,
      checked,
      ...(state.receiver ? { receiver: state.receiver } : {}),
    };
  }

  /** Walks the folder and hashes what may be unchanged: the records a sync sends. */
  private async plan(
    state: SyncRun,
    listFirst: boolean,
  ): Promise<{
    tree: LocalTree;
    records: AsyncIterator<Outgoing>;
    unchanged: number;
    checked: number;
    settle: () => void;
  }> {
    const { options, localDir } = state;
    const maxFileBytes = options.maxFileBytes ?? defaultMaxFileBytes;
    const { tree, checked, written, settle, since } = await this.trees
      .current(localDir, {
        maxFileBytes,
        ...(options.exclude ? { exclude: options.exclude } : {}),
        ...(options.fileSystem ? { fileSystem: options.fileSystem } : {}),
      })
      .catch((error: unknown) => {
        throw new SyncError(
          `cannot sync ${localDir}: ${error instanceof Error ? error.message : String(error)}`,
          localDir,
          { cause: error },
        );
      });
    options.signal?.throwIfAborted();
    state.skipped.push(...tree.skipped);
    if (options.verify) {
      state.manifest = await this.listRemote(state);
      this.manifests.set(state.root, state.manifest);
    }
    const read = (entry: LocalFile, into?: Buffer) =>
      readFileForSync(
        options.fileSystem ?? nodeFileSystem,
        localDir,
        entry,
        maxFileBytes,
        (skip) => state.skipped.push(skip),
        into,
      );
    // Once the pod held exactly the tree this one was derived from, only the entries written
    // since can differ: one changed file in a large tree is not a pass over all of it.
    const mirrored = this.mirrored.get(state.root);
    this.mirrored.delete(state.root);
    const incremental =
      since !== undefined && since.tree === mirrored && !listFirst && !options.verify;
    const candidates = incremental ? since.entries : tree.entries;
    const toSend: { entry: LocalEntry; content?: Buffer }[] = [];
    const toHash: LocalFile[] = [];
    let unchanged = tree.entries.length - candidates.length;
    for (const entry of candidates) {
      const known = state.manifest.get(entry.path);
      if (!written.has(entry.path) && unchangedByStat(entry, known)) {
        unchanged++;
      } else if (entry.kind === 'file' && worthHashing(entry, known)) {
        toHash.push(entry);
      } else {
        toSend.push({ entry });
      }
    }
    for await (const [entry, content] of readAhead(toHash, read, (entry) => entry.size)) {
      const known = state.manifest.get(entry.path);
      if (content && known?.kind === 'file' && sha256(content) === known.sha256) {
        state.manifest.set(entry.path, { ...known, mtimeMs: entry.mtimeMs, listed: false });
        unchanged++;
      } else if (content) {
        toSend.push({ entry, content });
      }
    }
    options.signal?.throwIfAborted();
    state.total = toSend.length;
    // A first sync's receiver lists the root, maybe during the walk: what it found that the folder
    // lacks goes in a second exec, whenever the listing came.
    const deleted = listFirst || incremental ? [] : pathsToDelete(state.manifest, tree);
    const bytes = toSend.reduce(
      (sum, { entry }) => sum + (entry.kind === 'file' ? entry.size : 0),
      0,
    );
    state.small = toSend.length + deleted.length <= smallBatchRecords && bytes <= smallBatchBytes;
    const contentOf = (item: (typeof toSend)[number], into?: Buffer) =>
      item.content || item.entry.kind === 'symlink'
        ? Promise.resolve(item.content)
        : read(item.entry, into);
    const sizeOf = (item: (typeof toSend)[number]) =>
      item.content || item.entry.kind === 'symlink' ? 0 : item.entry.size;
    // Each content is framed before the next is asked for: read-ahead may lend its memory again.
    const files = readAhead(toSend, contentOf, sizeOf, { lend: true });
    return { tree, records: outgoing(deleted, files, state), unchanged, checked, settle };
  }

  /** Stops watching the local folders. */
  close(): void {
    this.trees.close();
  }

  /**
   * Another folder's remote root inside this one (or around it) would make both manifests
   * stale: each sync deletes what the other wrote.
   */
  private refuseOverlap(localDir: string, root: string): void {
    for (const folder of this.folders.values()) {
      if (
        folder.local !== localDir &&
        (isInside(folder.remote, root, posix) || isInside(root, folder.remote, posix))
      ) {
        throw new SyncError(
          `cannot sync ${localDir} to ${root} in pod ${this.programs.target.pod}: it overlaps ${folder.remote}, where ${folder.local} is synced`,
          root,
        );
      }
    }
  }

  /** What the pod holds under the root (Python hashes every file; sh only names them). */
  private async listRemote(state: SyncRun): Promise<Manifest> {
    const chunks: Buffer[] = [];
    const outcome = await this.programs
      .run(
        { python: pythonLister, sh: shLister },
        {
          args: [state.root],
          onStdout: (chunk) => chunks.push(chunk),
          onExec: () => state.apiCalls++,
          ...(state.options.signal ? { signal: state.options.signal } : {}),
          ...(state.options.idleTimeoutMs ? { idleTimeoutMs: state.options.idleTimeoutMs } : {}),
        },
      )
      .catch((error: unknown) => {
        throw this.failure(state, `could not list ${state.root}`, error);
      });
    const output = Buffer.concat(chunks);
    const listing =
      outcome.interpreter === 'python'
        ? parsePythonListing(output.toString('latin1'))
        : parseShListing(output);
    if (outcome.exitCode !== 0 || !listing) {
      throw new SyncError(
        `could not list ${state.root} in pod ${this.programs.target.pod} (exit code ${outcome.exitCode}): ${outcome.stderr.trim()}`,
        state.root,
      );
    }
    return listing;
  }

  /**
   * Sends every record, in as many execs as batchBytes asks; none when there is none. A batch
   * already under way (a first sync's) is awaited first.
   */
  private async sendAll(
    state: SyncRun,
    records: AsyncIterator<Outgoing>,
    firstBatch?: Promise<IteratorResult<Outgoing>>,
  ): Promise<void> {
    let next = await (firstBatch ?? records.next());
    while (!next.done && !state.newPod) {
      next = await this.sendBatch(state, records, next, false);
    }
  }

  /**
   * One exec: records stream in as they are read, and each record the pod confirms goes into the
   * manifest. Resolves with the first record of the next batch, if any.
   */
  private async sendBatch(
    state: SyncRun,
    records: AsyncIterator<Outgoing>,
    first: IteratorResult<Outgoing> | undefined,
    listFirst: boolean,
  ): Promise<IteratorResult<Outgoing>> {
    const pending: Pending[] = [];
    let next: IteratorResult<Outgoing> = first ?? { done: true, value: undefined };
    async function* stdin(): AsyncGenerator<Buffer> {
      const framer = new StdinFramer(stdinChunkBytes);
      if (!first) {
        next = await records.next();
      }
      let batchSize = 0;
      while (!next.done && batchSize < batchBytes) {
        pending.push(next.value.pending);
        for (const part of next.value.record) {
          framer.write(part);
        }
        batchSize += next.value.pending.bytes;
        yield* framer.takeFilled();
        next = await records.next();
      }
      framer.write(endRecord);
      yield* framer.takeAll();
    }
    const answers = new ReceiverAnswers((record) => {
      const confirmed = pending[record - 1];
      if (confirmed) {
        this.confirm(state, confirmed);
      }
    });
    const output = listFirst
      ? new ListingThenLines((listing) => this.adoptListing(state, listing), answers.lines)
      : answers.lines;
    const outcome = await this.programs
      .run(
        { python: pythonReceiver, sh: shReceiver },
        {
          // Its first batch marks the container (a listing told what it holds) or checks the mark.
          args: [state.root, listFirst ? 'list' : state.listed ? 'mark' : 'check', this.marker],
          stdin: stdin(),
          small: !listFirst && state.small,
          onStdout: (chunk) => output.push(chunk),
          onExec: () => state.apiCalls++,
          ...(state.options.signal ? { signal: state.options.signal } : {}),
          ...(state.options.idleTimeoutMs ? { idleTimeoutMs: state.options.idleTimeoutMs } : {}),
        },
      )
      .catch((error: unknown) => {
        unconfirmed(state, pending.slice(answers.confirmed));
        throw this.failure(state, `the sync to ${state.root} was cut`, error);
      });
    if (output instanceof ListingThenLines) {
      output.end();
    }
    state.listed = true;
    state.receiver = outcome.program;
    state.newPod ||= answers.newPod;
    this.programs.shTools = answers.shTools ?? this.programs.shTools;
    if ((answers.done || state.newPod) && outcome.exitCode === 0) {
      return next;
    }
    unconfirmed(state, pending.slice(answers.confirmed));
    const { reason, record } = answers.failure(outcome.exitCode, outcome.stderr);
    const what = record ? pending[record - 1]?.path : undefined;
    throw new SyncError(
      what === undefined
        ? `could not write the remote root ${state.root} in pod ${this.programs.target.pod}: ${reason}`
        : `could not write ${posix.join(state.root, what)} in pod ${this.programs.target.pod}: ${reason}`,
      what === undefined ? state.root : posix.join(state.root, what),
    );
  }

  /**
   * The receiver's listing of the root before it wrote: recorded as the pod's state (what this
   * batch writes is confirmed over it), from now on the manifest of the root.
   */
  private adoptListing(state: SyncRun, listing: Buffer): void {
    const found = parseShListing(listing);
    for (const [path, entry] of found ?? []) {
      if (!state.manifest.has(path)) {
        state.manifest.set(path, entry);
      }
    }
    this.manifests.set(state.root, state.manifest);
  }

  private confirm(state: SyncRun, record: Pending): void {
    if (record.entry) {
      state.manifest.set(record.path, record.entry);
      state.sent++;
      state.bytes += record.bytes;
      state.options.onProgress?.({ files: state.sent, bytes: state.bytes, total: state.total });
    } else {
      state.manifest.delete(record.path);
      state.deleted++;
    }
  }

  /** A cancel stays the caller's abort reason; anything else becomes a SyncError naming the root. */
  private failure(state: SyncRun, what: string, error: unknown): unknown {
    if (state.options.signal?.aborted) {
      return error;
    }
    const message = error instanceof Error ? error.message : String(error);
    return new SyncError(`${what} in pod ${this.programs.target.pod}: ${message}`, state.root, {
      cause: error,
    });
  }
}

/**
 * Records a batch sent but not confirmed: a file may be in the pod in part (a new one is written
 * in place), so it counts as unknown there: sent again if the folder has it, deleted if not.
 */
function unconfirmed(state: SyncRun, records: readonly Pending[]): void {
  for (const { path, entry } of records) {
    if (entry) {
      state.manifest.set(path, { kind: 'file', size: -1, mtimeMs: Number.NaN, mode: -1 });
    }
  }
}
