import * as crypto from 'node:crypto';
import { decodePath } from './framing.ts';
import type { LocalEntry, LocalFile, LocalTree } from './localTree.ts';

/** What the pod holds at one path, as far as a sync knows. */
export type ManifestEntry =
  | {
      kind: 'file';
      size: number;
      /** The local file's mtime when it was sent; NaN when the entry came from a listing. */
      mtimeMs: number;
      mode: number;
      /** Undefined when the pod could not hash it (a listing over sh): it is sent again. */
      sha256?: string;
      /** From a listing of the pod rather than sent by this session. */
      listed?: boolean;
    }
  | { kind: 'symlink'; target?: string; listed?: boolean };

/** Remote paths (relative to the remote root) → what is there. */
export type Manifest = Map<string, ManifestEntry>;

/** One call where the runtime has it (Node 20.12): no hash object per file. */
export const sha256: (data: Buffer) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

/** The Python lister's lines: `f <mode> <size> <sha256> <path>`, `l <target> <path>`, `end`. */
export function parsePythonListing(text: string): Manifest | undefined {
  const manifest: Manifest = new Map();
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields[0] === 'end') {
      return manifest;
    }
    if (fields[0] === 'f' && fields.length === 5) {
      manifest.set(decodePath(fields[4]!), {
        kind: 'file',
        mode: Number.parseInt(fields[1]!, 8),
        size: Number(fields[2]),
        sha256: fields[3]!,
        mtimeMs: Number.NaN,
        listed: true,
      });
    } else if (fields[0] === 'l' && fields.length === 3) {
      manifest.set(decodePath(fields[2]!), {
        kind: 'symlink',
        target: decodePath(fields[1]!),
        listed: true,
      });
    }
  }
  return undefined;
}

/** The sh lister's NUL-terminated `f <path>` / `l <path>` records, then `end`. */
export function parseShListing(data: Buffer): Manifest | undefined {
  const manifest: Manifest = new Map();
  for (const record of data.toString('utf8').split('\0')) {
    if (record === 'end') {
      return manifest;
    }
    const path = record.slice(2);
    if (record.startsWith('f ')) {
      manifest.set(path, { kind: 'file', size: -1, mtimeMs: Number.NaN, mode: -1, listed: true });
    } else if (record.startsWith('l ')) {
      manifest.set(path, { kind: 'symlink', listed: true });
    }
  }
  return undefined;
}

/** A local entry the pod may already hold, by its recorded size, mtime and mode alone. */
export function unchangedByStat(entry: LocalEntry, known: ManifestEntry | undefined): boolean {
  if (entry.kind === 'symlink') {
    return known?.kind === 'symlink' && known.target === entry.target;
  }
  return (
    known?.kind === 'file' &&
    known.size === entry.size &&
    known.mtimeMs === entry.mtimeMs &&
    known.mode === entry.mode
  );
}

/** Whether the pod's copy can be the same content: same size and a hash to compare. */
export const worthHashing = (entry: LocalFile, known: ManifestEntry | undefined): boolean =>
  known?.kind === 'file' &&
  known.sha256 !== undefined &&
  known.size === entry.size &&
  known.mode === entry.mode;

/**
 * Paths the pod holds that the folder no longer has: everything this session sent, and what a
 * listing found unless the local rules ignore it. Skipped paths keep their remote copy.
 */
export function pathsToDelete(manifest: Manifest, tree: LocalTree): string[] {
  const present = new Set(tree.entries.map((entry) => entry.path));
  const skipped = tree.skipped.map((entry) => entry.path);
  const wasSkipped = (path: string) =>
    skipped.some((skip) => path === skip || path.startsWith(`${skip}/`) || skip === '');
  return [...manifest.entries()]
    .filter(
      ([path, entry]) =>
        !present.has(path) && !wasSkipped(path) && !(entry.listed && tree.ignores(path)),
    )
    .map(([path]) => path)
    .sort();
}
