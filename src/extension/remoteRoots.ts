import { createHash } from 'node:crypto';
import { basename, posix } from 'node:path';

/**
 * Where each local folder is mirrored in the pod: `<workspacePath>/<folder name>`. Folders of a
 * multi-root workspace with the same name (two `api` folders from different places) would write
 * into each other's files there, so the first of them in workspace order has the plain name and
 * each later one a suffix from its local path. A folder's root, once given, stays for the
 * window's life: opening another folder of the same name never moves it.
 */
export class RemoteRoots {
  /** Root by workspace path and folder path. */
  private readonly given = new Map<string, string>();

  rootOf(folderPath: string, openFolderPaths: readonly string[], workspacePath: string): string {
    for (const path of [...openFolderPaths, folderPath]) {
      this.give(path, workspacePath);
    }
    return this.given.get(keyOf(folderPath, workspacePath))!;
  }

  private give(folderPath: string, workspacePath: string): void {
    const key = keyOf(folderPath, workspacePath);
    if (this.given.has(key)) {
      return;
    }
    const name = basename(folderPath) || 'workspace';
    const plain = posix.join(workspacePath, name);
    const taken = [...this.given.values()].includes(plain);
    const suffix = `-${createHash('sha256').update(folderPath).digest('hex').slice(0, 8)}`;
    this.given.set(key, taken ? posix.join(workspacePath, `${name}${suffix}`) : plain);
  }
}

const keyOf = (folderPath: string, workspacePath: string) => `${workspacePath}\0${folderPath}`;
