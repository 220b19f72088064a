import { deleteRecord, fileHeader, fileTrailer, symlinkRecord } from './framing.ts';
import type { LocalEntry } from './localTree.ts';
import type { ManifestEntry } from './manifest.ts';

/** One record of a batch: what the manifest becomes at `path` once the pod confirms it. */
export interface Pending {
  path: string;
  entry: ManifestEntry | undefined;
  bytes: number;
  /** A file's content: hashed once the pod confirmed it, while later records still travel. */
  content?: Buffer;
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
  run: { options: { signal?: AbortSignal }; total: number },
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
      const file: ManifestEntry = {
        kind: 'file',
        size: content.length,
        mtimeMs: entry.mtimeMs,
        mode: entry.mode,
      };
      yield {
        record: [fileHeader(entry.mode, content.length, entry.path), content, fileTrailer],
        pending: { path: entry.path, entry: file, bytes: content.length, content },
      };
    } else {
      // Unreadable now (skipped and reported): one file fewer to send.
      run.total--;
    }
  }
}
