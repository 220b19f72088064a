import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, copyFile, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execFileAsync } from './processes.ts';
import { minimalImages } from '../support/syncHelpers.ts';

/** A minimal image for a real node, from the same definition the emulator's catalog serves. */
export interface ToolImage {
  /** The registry name the tests' short reference resolves to. */
  tag: string;
  /** Changes with the recipe, so a cached layer of an older one is not served. */
  layerName: string;
  buildRootfs: (rootfs: string) => Promise<void>;
  runConfig: Record<string, string[]>;
}

interface MinimalImage {
  commands: Record<string, string>;
  env?: Record<string, string>;
  cmd?: readonly string[];
}

/**
 * The tests' images of a few tools and nothing else (no tar, no usual shell tools, or no shell):
 * each command the host's binary at /usr/local/bin/NAME with the shared libraries it loads, a
 * shell also at /bin/sh, and Python's standard library for a Python. Built from test/support/syncHelpers.ts's definitions,
 * so the emulator's image and the real one are the same recipe.
 */
export function toolImages(): ToolImage[] {
  const definitions: Record<string, MinimalImage> = minimalImages;
  return Object.entries(definitions).map(([name, definition]) => ({
    tag: `library/${name}:latest`,
    layerName: `tools-${name}-2`,
    buildRootfs: (rootfs) => buildToolsRootfs(rootfs, definition.commands),
    runConfig: {
      Env: Object.entries(definition.env ?? {}).map(([key, value]) => `${key}=${value}`),
      Cmd: [...(definition.cmd ?? ['sh'])],
    },
  }));
}

async function buildToolsRootfs(rootfs: string, commands: Record<string, string>): Promise<void> {
  const bin = join(rootfs, 'usr', 'local', 'bin');
  await mkdir(bin, { recursive: true });
  await mkdir(join(rootfs, 'tmp'));
  await chmod(join(rootfs, 'tmp'), 0o1777);
  const binaries: string[] = [];
  for (const [name, target] of Object.entries(commands)) {
    const binary = realpathSync(target);
    await copyFile(binary, join(bin, name));
    await chmod(join(bin, name), 0o755);
    binaries.push(binary);
    if (/\/python3(\.\d+)?$/.test(binary)) {
      binaries.push(...(await copyPythonStandardLibrary(binary, rootfs)));
    }
  }
  if (commands.sh) {
    // Every image with a shell has it at /bin/sh, where pod commands name it.
    await mkdir(join(rootfs, 'bin'));
    await symlink('/usr/local/bin/sh', join(rootfs, 'bin', 'sh'));
  }
  for (const library of sharedLibraries(binaries)) {
    await mkdir(join(rootfs, dirname(library)), { recursive: true });
    await copyFile(realpathSync(library), join(rootfs, library));
  }
}

/** Copies the interpreter's standard library (not its tests); returns its extension modules. */
async function copyPythonStandardLibrary(python: string, rootfs: string): Promise<string[]> {
  const stdlib = execFileSync(
    python,
    ['-c', 'import sysconfig; print(sysconfig.get_path("stdlib"))'],
    {
      encoding: 'utf8',
    },
  ).trim();
  const relative = stdlib.replace(/^\//, '');
  await execFileAsync('sh', [
    '-c',
    'tar -C / --exclude="$1/test" --exclude="$1/*/test" --exclude="__pycache__" -cf - "$1" | tar -C "$2" -xf -',
    'sh',
    relative,
    rootfs,
  ]);
  const dynload = join(stdlib, 'lib-dynload');
  return existsSync(dynload)
    ? execFileSync('find', [dynload, '-name', '*.so'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
    : [];
}

/** Every shared library (and the loader) these ELF files load, by the paths they load them from. */
function sharedLibraries(files: string[]): Set<string> {
  const libraries = new Set<string>();
  for (const file of files) {
    let listing: string;
    try {
      listing = execFileSync('ldd', [file], { encoding: 'utf8' });
    } catch {
      continue; // static, or not an ELF file
    }
    for (const line of listing.split('\n')) {
      const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
      if (path) {
        libraries.add(path);
      }
    }
  }
  return libraries;
}
