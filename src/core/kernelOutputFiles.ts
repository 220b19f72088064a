import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Rich outputs saved as files, by mime type. */
const fileTypes: Record<string, { extension: string; base64: boolean }> = {
  'image/png': { extension: 'png', base64: true },
  'image/jpeg': { extension: 'jpeg', base64: true },
  'image/svg+xml': { extension: 'svg', base64: false },
  'text/html': { extension: 'html', base64: false },
};

/**
 * The text a kernel output of one mime type contributes to a result: plain text as is, images
 * and HTML as the path of a file saved in `outputDir` (listed in `files`, written through
 * `saves`), anything else as JSON.
 */
export function renderMime(
  outputDir: string,
  mime: string,
  value: unknown,
  files: string[],
  saves: Promise<void>[],
): string {
  if (mime === 'text/plain') {
    return `${String(value)}\n`;
  }
  const type = fileTypes[mime];
  if (!type) {
    return `${JSON.stringify(value)}\n`;
  }
  const path = join(outputDir, `${randomUUID().replace(/-/g, '')}.${type.extension}`);
  files.push(path);
  const content = Array.isArray(value) ? value.join('') : String(value);
  saves.push(
    writeFile(
      path,
      type.base64 ? Buffer.from(content, 'base64') : content,
      type.base64 ? undefined : 'utf8',
    ),
  );
  return `${path}\n`;
}
