import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheRoot } from './binaries.ts';
import { execFileAsync } from './processes.ts';
import type { TagTable } from './registry.ts';

const manifestMediaType = 'application/vnd.oci.image.manifest.v1+json';
const configMediaType = 'application/vnd.oci.image.config.v1+json';
const layerMediaType = 'application/vnd.oci.image.layer.v1.tar';
const goBinary = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
const pathEnv = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LocalImages {
  blobDir: string;
  tags: TagTable;
}

/**
 * Builds (once, cached) the two images the cluster needs without internet access: the pod
 * sandbox image and a Python image that stands in for python:3-slim.
 */
export async function ensureLocalImages(log: (line: string) => void): Promise<LocalImages> {
  const imageDir = join(cacheRoot(), 'images');
  const blobDir = join(imageDir, 'blobs');
  await mkdir(join(blobDir, 'sha256'), { recursive: true });
  const tags: TagTable = new Map();
  const pauseLayer = await cachedLayer(imageDir, 'pause', buildPauseRootfs, log);
  const pause = await writeImage(blobDir, pauseLayer, { Entrypoint: ['/pause'] });
  tags.set('pause:3.10', pause);
  const pythonLayer = await cachedLayer(imageDir, 'python', buildPythonRootfs, log);
  const python = await writeImage(blobDir, pythonLayer, { Cmd: ['python3'] });
  tags.set('library/python:3-slim', python);
  return { blobDir, tags };
}

/** A layer tar kept under `imageDir`; built from a fresh rootfs when missing. */
async function cachedLayer(
  imageDir: string,
  name: string,
  buildRootfs: (rootfs: string) => Promise<void>,
  log: (line: string) => void,
): Promise<string> {
  const layer = join(imageDir, `${name}.tar`);
  if (existsSync(layer)) {
    return layer;
  }
  log(`building the ${name} image...`);
  const workDir = await mkdtemp(join(imageDir, `${name}-`));
  try {
    const rootfs = join(workDir, 'rootfs');
    await mkdir(rootfs);
    await buildRootfs(rootfs);
    const partial = join(workDir, 'layer.tar');
    await execFileAsync('tar', ['--numeric-owner', '-C', rootfs, '-cf', partial, '.'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    await rename(partial, layer);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return layer;
}

async function buildPauseRootfs(rootfs: string): Promise<void> {
  const source = join(__dirname, 'pause', 'main.go');
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '' };
  await execFileAsync(goBinary, ['build', '-o', join(rootfs, 'pause'), source], {
    env,
    cwd: dirname(source),
  });
}

async function buildPythonRootfs(rootfs: string): Promise<void> {
  await execFileAsync(
    'debootstrap',
    ['--variant=minbase', '--include=python3', 'bookworm', rootfs, debianMirror()],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  // Package caches and lists are not needed in the image.
  await rm(join(rootfs, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
  await rm(join(rootfs, 'var', 'lib', 'apt', 'lists'), { recursive: true, force: true });
}

/** The Debian mirror this machine's apt already uses. */
function debianMirror(): string {
  const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n');
  const mirror =
    /^URIs:\s*(\S+\/debian)\s*$/m.exec(sources)?.[1] ??
    /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+bookworm\b/m.exec(sources)?.[1];
  if (!mirror) {
    throw new Error('no Debian mirror found in the apt sources');
  }
  return mirror;
}

async function writeImage(
  blobDir: string,
  layer: string,
  runConfig: Record<string, string[]>,
): Promise<{ digest: string; mediaType: string }> {
  const layerDigest = await fileDigest(layer);
  const layerBlob = join(blobDir, layerDigest.replace(':', '/'));
  if (!existsSync(layerBlob)) {
    await execFileAsync('cp', [layer, layerBlob]);
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: [pathEnv], ...runConfig },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
    }),
  );
  const configDigest = await writeBlob(blobDir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: { mediaType: configMediaType, digest: configDigest, size: config.length },
      layers: [{ mediaType: layerMediaType, digest: layerDigest, size: fileSize(layer) }],
    }),
  );
  return { digest: await writeBlob(blobDir, manifest), mediaType: manifestMediaType };
}

async function writeBlob(blobDir: string, content: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  await writeFile(join(blobDir, digest.replace(':', '/')), content);
  return digest;
}

function fileSize(path: string): number {
  return statSync(path).size;
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}
