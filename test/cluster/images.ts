import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, symlink, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheRoot } from './binaries.ts';
import { execFileAsync } from './processes.ts';
import type { TagTable } from './registry.ts';
import { toolImages } from './toolImages.ts';
import { pythonEnvironments } from '../support/pythonEnvironments.ts';

const manifestMediaType = 'application/vnd.oci.image.manifest.v1+json';
const configMediaType = 'application/vnd.oci.image.config.v1+json';
const layerMediaType = 'application/vnd.oci.image.layer.v1.tar';
const goBinary = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
const basePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const condaDir = '/opt/conda';
/** The gateway image's kernel: ipykernel and matplotlib from PyPI (Debian's pull in compilers). */
const gatewayImageKernelPackages = ['ipykernel==7.4.0', 'matplotlib==3.11.2'];

export interface LocalImages {
  blobDir: string;
  tags: TagTable;
}

/**
 * Builds (once, cached) the images the cluster needs without a registry to pull from: the pod
 * sandbox image, a Python image that stands in for python:3-slim, busybox, the tests' minimal
 * images (./toolImages.ts), and the kernel gateway's
 * (docker-stacks-foundation's stand-in, the emulator's image test/emulator/kubelet/imageCatalog.ts
 * as a real one).
 */
export async function ensureLocalImages(log: (line: string) => void): Promise<LocalImages> {
  const imageDir = join(cacheRoot(), 'images');
  const blobDir = join(imageDir, 'blobs');
  await mkdir(join(blobDir, 'sha256'), { recursive: true });
  const tags: TagTable = new Map();
  const pauseLayer = await cachedLayer(imageDir, 'pause-1', buildPauseRootfs, log);
  const pause = await writeImage(blobDir, pauseLayer, { Entrypoint: ['/pause'] });
  tags.set('pause:3.10', pause);
  const pythonLayer = await cachedLayer(imageDir, 'python-2', buildPythonRootfs, log);
  const python = await writeImage(blobDir, pythonLayer, { Cmd: ['python3'] });
  tags.set('library/python:3-slim', python);
  const busyboxLayer = await cachedLayer(imageDir, 'busybox-1', buildBusyboxRootfs, log);
  tags.set('library/busybox:latest', await writeImage(blobDir, busyboxLayer, { Cmd: ['sh'] }));
  for (const image of toolImages()) {
    const layer = await cachedLayer(imageDir, image.layerName, image.buildRootfs, log);
    tags.set(image.tag, await writeImage(blobDir, layer, image.runConfig));
  }
  const gatewayLayer = await cachedLayer(imageDir, 'gateway-1', buildGatewayRootfs, log);
  const gateway = await writeImage(blobDir, gatewayLayer, {
    Env: [
      `PATH=${condaDir}/bin:${basePath}`,
      'LANG=C.UTF-8',
      `CONDA_DIR=${condaDir}`,
      'NB_USER=jovyan',
    ],
    Cmd: ['start-notebook.py'],
  });
  // The tags the tests name (docker-stacks publishes dated tags beside latest).
  for (const tag of ['latest', '2025-01-01']) {
    tags.set(`jupyter/docker-stacks-foundation:${tag}`, gateway);
  }
  return { blobDir, tags };
}

/**
 * A layer tar kept under `imageDir`; built from a fresh rootfs when missing. `name` carries the
 * recipe's version: a changed recipe takes a new one, so no stale layer is served.
 */
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

/** python:3-slim's stand-in: Debian's Python, also as `python`, as the official image has it. */
async function buildPythonRootfs(rootfs: string): Promise<void> {
  await debootstrap(rootfs, ['python3', 'python-is-python3']);
}

/** busybox: Debian's static busybox and a link for each of its applets, as the official image. */
async function buildBusyboxRootfs(rootfs: string): Promise<void> {
  const bin = join(rootfs, 'bin');
  await mkdir(bin, { recursive: true });
  await mkdir(join(rootfs, 'tmp'));
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await copyFile('/bin/busybox', join(bin, 'busybox'));
  await chmod(join(bin, 'busybox'), 0o755);
  const { stdout } = await execFileAsync('/bin/busybox', ['--list']);
  for (const applet of stdout.split('\n').filter((name) => name && name !== 'busybox')) {
    await symlink('busybox', join(bin, applet));
  }
}

/**
 * The gateway image, docker-stacks-foundation's stand-in: Debian's Python with a virtual
 * environment at the image's conda path, first on PATH, holding what the seed's command installs
 * there (the real Jupyter Kernel Gateway, pinned as the emulator's, and ipykernel, whose python3
 * kernelspec runs that environment's `python`) and matplotlib for plots. The seed's install steps
 * (`mamba install`, `fix-permissions`) succeed, as they do once the packages are present.
 */
async function buildGatewayRootfs(rootfs: string): Promise<void> {
  await debootstrap(rootfs, ['python3', 'python3-venv', 'ca-certificates']);
  // Only while building: the host's name resolution and CA store (a TLS-inspecting proxy's CA
  // is in the host's, not the image's).
  const resolvConf = join(rootfs, 'etc', 'resolv.conf');
  const hostCa = join(rootfs, 'tmp', 'host-ca.crt');
  await copyFile('/etc/resolv.conf', resolvConf);
  await copyFile('/etc/ssl/certs/ca-certificates.crt', hostCa);
  const inRoot = (args: string[]) =>
    execFileAsync('chroot', [rootfs, ...args], {
      maxBuffer: 64 * 1024 * 1024,
      env: {
        PATH: basePath,
        HOME: '/root',
        LANG: 'C.UTF-8',
        PIP_CERT: '/tmp/host-ca.crt',
        PIP_DISABLE_PIP_VERSION_CHECK: '1',
        PIP_DEFAULT_TIMEOUT: '180',
      },
    });
  try {
    await inRoot(['python3', '-m', 'venv', condaDir]);
    await inRoot([
      `${condaDir}/bin/pip`,
      'install',
      '--no-cache-dir',
      ...pythonEnvironments.gateway.packages,
      ...gatewayImageKernelPackages,
    ]);
  } finally {
    await rm(resolvConf, { force: true });
    await rm(hostCa, { force: true });
  }
  for (const command of ['mamba', 'conda', 'fix-permissions']) {
    await writeFile(join(rootfs, 'usr', 'local', 'bin', command), '#!/bin/sh\nexit 0\n', {
      mode: 0o755,
    });
  }
}

async function debootstrap(rootfs: string, packages: string[]): Promise<void> {
  await execFileAsync(
    'debootstrap',
    ['--variant=minbase', `--include=${packages.join(',')}`, 'bookworm', rootfs, debianMirror()],
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
      config: { Env: [`PATH=${basePath}`], ...runConfig },
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
