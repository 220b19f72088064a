import type { Dirent, Stats } from 'node:fs';
import * as nodeFs from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { readFileInto } from './fileInto.ts';
import { isIgnored, parseIgnoreText, type IgnoreLayer } from './ignoreRules.ts';
import { isInside } from './paths.ts';
import type { SkippedPath } from './types.ts';

/** The local file calls a sync makes (node:fs/promises by default; tests inject faults). */
export interface LocalFileSystem {
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
  lstat(path: string): Promise<Stats>;
  /**
   * `into`, when given, is memory the caller lends: a file that fits may be read into it.
   * `expectedSize` is the size the walk saw (a hint: the file may have changed since).
   */
  readFile(path: string, into?: Buffer, expectedSize?: number): Promise<Buffer>;
  readlink(path: string): Promise<string>;
  realpath(path: string): Promise<string>;
}

/**
 * Synchronous calls behind the promise interface: for the small files of a project a thread-pool
 * round trip costs several times the read itself (7x measured on 50,000 files). The walk and the
 * reads yield to the event loop between folders and every few hundred files.
 */
// A throw inside the executor becomes the promise's rejection.
const settled = <T>(call: () => T): Promise<T> => new Promise<T>((resolve) => resolve(call()));

export const nodeFileSystem: LocalFileSystem = {
  readdir: (path, options) => settled(() => nodeFs.readdirSync(path, options)),
  lstat: (path) => settled(() => nodeFs.lstatSync(path)),
  readFile: (path, into, expectedSize) => settled(() => readFileInto(path, into, expectedSize)),
  readlink: (path) => settled(() => nodeFs.readlinkSync(path)),
  realpath: (path) => settled(() => nodeFs.realpathSync.native(path)),
};

export interface LocalFile {
  kind: 'file';
  path: string;
  size: number;
  mtimeMs: number;
  /** Permission bits. */
  mode: number;
  /** Set when the file has other names (hard links): a write through one of them changes it too. */
  linked?: true;
}

export interface LocalSymlink {
  kind: 'symlink';
  path: string;
  /** Relative to the link's folder, inside the tree. */
  target: string;
}

export type LocalEntry = LocalFile | LocalSymlink;

export interface LocalTree {
  /** Sorted by path. */
  entries: LocalEntry[];
  skipped: SkippedPath[];
  /** Whether a path (relative, POSIX) is ignored by the rules seen, its folders included. */
  ignores(path: string): boolean;
}

export interface WalkOptions {
  exclude?: string[];
  maxFileBytes: number;
  fileSystem?: LocalFileSystem;
  /** Told of each folder the walk reads, before it reads it (a watch started then misses nothing). */
  onFolder?: (absolute: string, relative: string) => void;
  /** Told of each ignore file above the root, before it is read. */
  onOutsideIgnoreFile?: (absolute: string) => void;
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * Lists what a sync sends from `root`: files and in-tree symlinks not ignored by .gitignore files
 * at any depth, .git/info/exclude and `exclude`; ignored folders are never read.
 */
export async function walkLocalTree(root: string, options: WalkOptions): Promise<LocalTree> {
  const fs = options.fileSystem ?? nodeFileSystem;
  const realRoot = await fs.realpath(root);
  if (!(await fs.lstat(realRoot)).isDirectory()) {
    throw new Error('not a folder');
  }
  const layers: IgnoreLayer[] = [
    ...(await enclosingRepositoryLayers(fs, realRoot, options.onOutsideIgnoreFile)),
  ];
  layers.push({ base: '', prefix: '', rules: parseIgnoreText((options.exclude ?? []).join('\n')) });
  const entries: LocalEntry[] = [];
  const skipped: SkippedPath[] = [];
  const skip = (path: string, reason: string) => skipped.push({ path, reason });

  const walk = async (dir: string): Promise<void> => {
    const absolute = join(realRoot, dir);
    options.onFolder?.(absolute, dir);
    let children: Dirent[];
    try {
      children = await fs.readdir(absolute, { withFileTypes: true });
    } catch (error) {
      skip(dir, `folder not readable (${errorCode(error) ?? String(error)})`);
      return;
    }
    const gitignore = children.find((child) => child.name === '.gitignore' && child.isFile());
    if (gitignore) {
      const text = await fs
        .readFile(join(absolute, '.gitignore'))
        .then((data) => data.toString('utf8'))
        .catch(() => '');
      // The root's own .gitignore sits under the exclude option: the option is applied last.
      const layer = { base: dir, prefix: '', rules: parseIgnoreText(text) };
      if (dir === '') {
        layers.splice(layers.length - 1, 0, layer);
      } else {
        layers.push(layer);
      }
    }
    const folders: string[] = [];
    const found = await Promise.all(
      children.map(async (child): Promise<LocalEntry | undefined> => {
        if (child.name === '.git') {
          return undefined;
        }
        const path = dir === '' ? child.name : `${dir}/${child.name}`;
        if (child.isDirectory()) {
          if (!isIgnored(layers, path, true)) {
            folders.push(path);
          }
          return undefined;
        }
        if (isIgnored(layers, path, false)) {
          return undefined;
        }
        if (child.isSymbolicLink()) {
          return inTreeSymlink(fs, realRoot, path, skip);
        }
        if (!child.isFile()) {
          skip(path, 'not a regular file, folder or symlink');
          return undefined;
        }
        return localFile(fs, realRoot, path, options.maxFileBytes, skip);
      }),
    );
    for (const entry of found) {
      if (entry) {
        entries.push(entry);
      }
    }
    folders.sort();
    for (const folder of folders) {
      await nextTurn();
      await walk(folder);
    }
  };

  await walk('');
  entries.sort((a, b) => compare(a.path, b.path));
  skipped.sort((a, b) => compare(a.path, b.path));
  return {
    entries,
    skipped,
    ignores: (path) => {
      const parts = path.split('/');
      return parts.some(
        (_, index) =>
          parts[index] === '.git' ||
          isIgnored(layers, parts.slice(0, index + 1).join('/'), index < parts.length - 1),
      );
    },
  };
}

/** A file's content, or undefined (skipped and reported) when it cannot be read or grew too big. */
export async function readFileForSync(
  fs: LocalFileSystem,
  root: string,
  { path, size }: LocalFile,
  maxFileBytes: number,
  skip: (skipped: SkippedPath) => void,
  into?: Buffer,
): Promise<Buffer | undefined> {
  try {
    const content = await fs.readFile(join(root, path), into, size);
    if (content.length > maxFileBytes) {
      skip({ path, reason: 'grew past maxFileBytes during the sync' });
      return undefined;
    }
    return content;
  } catch (error) {
    const code = errorCode(error);
    skip({
      path,
      reason:
        code === 'ENOENT' ? 'deleted during the sync' : `not readable (${code ?? String(error)})`,
    });
    return undefined;
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function localFile(
  fs: LocalFileSystem,
  root: string,
  path: string,
  maxFileBytes: number,
  skip: (path: string, reason: string) => void,
): Promise<LocalFile | undefined> {
  let stats: Stats;
  try {
    stats = await fs.lstat(join(root, path));
  } catch (error) {
    skip(path, `not readable (${errorCode(error) ?? String(error)})`);
    return undefined;
  }
  if (stats.size > maxFileBytes) {
    skip(path, `larger than maxFileBytes (${stats.size} > ${maxFileBytes} bytes)`);
    return undefined;
  }
  return fileEntryOf(path, stats);
}

/** A file of the tree as its lstat describes it. */
export function fileEntryOf(path: string, stats: Stats): LocalFile {
  return {
    kind: 'file',
    path,
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    mode: stats.mode & 0o7777,
    ...(stats.nlink > 1 ? { linked: true as const } : {}),
  };
}

/** A symlink kept only when it and every link it goes through stay inside the tree. */
async function inTreeSymlink(
  fs: LocalFileSystem,
  root: string,
  path: string,
  skip: (path: string, reason: string) => void,
): Promise<LocalSymlink | undefined> {
  const absolute = join(root, path);
  let target: string;
  try {
    target = await fs.readlink(absolute);
  } catch (error) {
    skip(path, `symlink not readable (${errorCode(error) ?? String(error)})`);
    return undefined;
  }
  const resolved = resolve(dirname(absolute), target);
  const escape = await chainEscape(fs, root, absolute);
  if (escape) {
    skip(path, `${escape} (${target})`);
    return undefined;
  }
  const relativeTarget = isAbsolute(target) ? relative(dirname(absolute), resolved) || '.' : target;
  return { kind: 'symlink', path, target: relativeTarget.split(sep).join('/') };
}

/** Follows a chain of links: why it leaves the tree or loops, or undefined when it stays inside. */
async function chainEscape(
  fs: LocalFileSystem,
  root: string,
  link: string,
): Promise<string | undefined> {
  let current = link;
  for (let hops = 0; hops < 40; hops++) {
    const next = resolve(dirname(current), await fs.readlink(current));
    if (!isInside(root, next)) {
      return hops === 0 ? 'symlink points outside the folder' : 'symlink leads outside the folder';
    }
    const stats = await fs.lstat(next).catch(() => undefined);
    if (!stats?.isSymbolicLink()) {
      // The folders on the way may be links too (`b -> .`, `a -> b/../..`): the link's own real
      // path must stay inside as well.
      const real = await fs.realpath(link).catch(() => undefined);
      return real === undefined || isInside(root, real)
        ? undefined
        : 'symlink leads outside the folder';
    }
    current = next;
  }
  return 'symlink loop';
}

/**
 * When the root lies inside a git repository: its .git/info/exclude and the .gitignore files of
 * the folders from the repository's top down to (not including) the root.
 */
async function enclosingRepositoryLayers(
  fs: LocalFileSystem,
  root: string,
  onRead: ((absolute: string) => void) | undefined,
): Promise<IgnoreLayer[]> {
  const above: string[] = [];
  for (let dir = root; ; dir = dirname(dir)) {
    const hasGit = await fs.lstat(join(dir, '.git')).then(
      () => true,
      () => false,
    );
    if (hasGit) {
      const read = (file: string) => {
        onRead?.(file);
        return fs
          .readFile(file)
          .then((data) => data.toString('utf8'))
          .catch(() => '');
      };
      const layers: IgnoreLayer[] = [];
      const toRoot = relative(dir, root).split(sep).join('/');
      const prefixFor = (folder: string) => {
        const rest = relative(folder, root).split(sep).join('/');
        return rest === '' ? '' : `${rest}/`;
      };
      layers.push({
        base: '',
        prefix: toRoot === '' ? '' : `${toRoot}/`,
        rules: parseIgnoreText(await read(join(dir, '.git', 'info', 'exclude'))),
      });
      for (const folder of [dir, ...above.reverse()]) {
        if (folder !== root) {
          layers.push({
            base: '',
            prefix: prefixFor(folder),
            rules: parseIgnoreText(await read(join(folder, '.gitignore'))),
          });
        }
      }
      return layers;
    }
    if (dirname(dir) === dir) {
      return [];
    }
    if (dir !== root) {
      above.push(dir);
    }
  }
}
