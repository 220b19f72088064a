import path from 'node:path';

/**
 * Whether `inner` is `folder` or lies inside it, by their text alone (a name such as `..notes`
 * is inside; `..` and `../x` are not). `paths` is node:path, or node:path's posix for pod paths.
 */
export function isInside(
  folder: string,
  inner: string,
  paths: Pick<typeof path, 'relative' | 'isAbsolute' | 'sep'> = path,
): boolean {
  const rel = paths.relative(folder, inner);
  return !(rel === '..' || rel.startsWith(`..${paths.sep}`) || paths.isAbsolute(rel));
}
