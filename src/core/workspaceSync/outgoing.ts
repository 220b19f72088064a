import { stdinFrameOffset } from '../podExec.ts';
import { deleteRecord, fileHeader, fileTrailer, symlinkRecord } from './framing.ts';
import type { LocalEntry } from './localTree.ts';
import { sha256, type ManifestEntry } from './manifest.ts';

/** One record of a batch: what the manifest becomes at `path` once the pod confirms it. */
export interface Pending {
  path: string;
  entry: ManifestEntry | undefined;
  bytes: number;
}

/** A record on its way: its bytes, and what the manifest becomes once the pod confirms it. */
export interface Outgoing {
  record: Buffer[];
  pending: Pending;
}

/** The records of a sync: deletions first, then each file or symlink as its read completes. */
export async function* outgoing(
  deleted: readonly string[],
  files: AsyncIterable<[{ entry: LocalEntry }, Buffer | undefined]> | [],
  run: { options: { signal?: AbortSignal }; total: number; inexact: boolean },
): AsyncGenerator<Outgoing> {
  for (const path of deleted) {
    yield { record: [deleteRecord(path)], pending: { path, entry: undefined, bytes: 0 } };
  }
  for await (const [{ entry }, content] of files) {
    run.options.signal?.throwIfAborted();
    if (entry.kind === 'symlink') {
      const symlink = { kind: 'symlink', target: entry.target } as const;
      yield {
        record: [symlinkRecord(entry.target, entry.path)],
        pending: { path: entry.path, entry: symlink, bytes: 0 },
      };
    } else if (content) {
      run.inexact ||= content.length !== entry.size;
      // Hashed now rather than once confirmed: the content is then dropped as soon as it was
      // framed, before the garbage collector has to move it out of its young generation.
      const file: ManifestEntry = {
        kind: 'file',
        size: content.length,
        mtimeMs: entry.mtimeMs,
        mode: entry.mode,
        sha256: sha256(content),
      };
      yield {
        record: [fileHeader(entry.mode, content.length, entry.path), content, fileTrailer],
        pending: { path: entry.path, entry: file, bytes: content.length },
      };
    } else {
      // Unreadable now (skipped and reported): one file fewer to send.
      run.total--;
      run.inexact = true;
    }
  }
}

/**
 * Packs records into stdin frames of frameBytes each (the channel byte left free before them),
 * so each byte is copied once on its way to the socket. The client has sent every frame handed
 * out by the time it asks for the next, so their memory is used again rather than allocated
 * anew: a sync of a large tree then gives the garbage collector next to nothing to do.
 */
export class StdinFramer {
  private frame: Buffer;
  private used = stdinFrameOffset;
  private readonly filled: Buffer[] = [];
  private readonly handedOut: Buffer[] = [];
  private readonly spare: Buffer[] = [];

  constructor(private readonly frameBytes: number) {
    this.frame = this.newFrame();
  }

  write(part: Buffer): void {
    this.spare.push(...this.handedOut.splice(0));
    for (let offset = 0; offset < part.length;) {
      const copied = part.copy(this.frame, this.used, offset);
      this.used += copied;
      offset += copied;
      if (this.used === this.frame.length) {
        this.filled.push(this.frame);
        this.frame = this.newFrame();
        this.used = stdinFrameOffset;
      }
    }
  }

  /** The frames filled since the last call. */
  takeFilled(): Buffer[] {
    const frames = this.filled.splice(0);
    this.handedOut.push(...frames);
    return frames;
  }

  /** The frames filled since the last call and the partly filled one: the end of the stream. */
  takeAll(): Buffer[] {
    const last = this.frame.subarray(0, this.used);
    this.handedOut.push(this.frame);
    this.frame = this.newFrame();
    this.used = stdinFrameOffset;
    return [...this.takeFilled(), last];
  }

  private newFrame(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(stdinFrameOffset + this.frameBytes);
  }
}

/** An iterator over a source known later: each next() waits for it (and fails if it does). */
export function later<T>(source: Promise<AsyncIterator<T>>): AsyncIterator<T> {
  // Failing before anyone asked is not an unhandled rejection: the next next() rethrows it.
  source.catch(() => undefined);
  return { next: async () => (await source).next() };
}
