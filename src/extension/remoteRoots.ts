import { createHash } from 'node:crypto';
import { basename, posix } from 'node:path';

/**
 * Where a local folder is mirrored in the pod: `<workspacePath>/<folder name>`. Folders of a
 * multi-root workspace with the same name (two `api` folders from different places) would write
 * into each other's files there, so each of those gets a suffix from its local path: the same
 * however the folders are ordered, and different for different paths.
 */
export function remoteRootFor(
  folderPath: string,
  openFolderPaths: readonly string[],
  workspacePath: string,
): string {
  const name = basename(folderPath) || 'workspace';
  const shared = openFolderPaths.some((other) => other !== folderPath && basename(other) === name);
  const suffix = shared
    ? `-${createHash('sha256').update(folderPath).digest('hex').slice(0, 8)}`
    : '';
  return posix.join(workspacePath, `${name}${suffix}`);
}
