import { pythonEnvironments, pythonOf } from '../../support/pythonEnvironments.ts';
import { venvDir } from '../../support/pythonVenv.ts';

/**
 * What each image reference means in the emulator's sandbox: there is no registry, so an image is
 * a recipe over the host's read-only system directories (extra commands in /usr/local/bin, an
 * environment, a default entrypoint and command).
 */
export interface ImageDefinition {
  /**
   * Commands placed in the image's /usr/local/bin: name → an absolute path on the host (visible in
   * the container: /usr, /etc, /opt are shared read-only) or `{ script }`, an executable file.
   */
  commands: Record<string, string | { script: string }>;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  /** Simulated pull time in milliseconds. */
  pullDelayMs?: number;
  /**
   * The image's own files beyond the host's system directories: host directories that the
   * container sees read-only at the same path. `pull` makes them (fails: ErrImagePull).
   */
  contents?: { directories: string[]; pull(): Promise<void> };
}

export interface ImageCatalogOptions {
  /** Extra or replacing definitions, by image name without tag (`python`, `quay.io/x/y`). */
  images?: Record<string, Partial<ImageDefinition>>;
  /** References (exact, or name without tag) that fail to pull with ErrImagePull. */
  unpullable?: string[];
  /** Pull time for every image unless the definition sets its own. */
  defaultPullDelayMs?: number;
}

export type ImageResolution = { ok: true; image: ImageDefinition } | { ok: false; reason: string };

const basePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const hostPython = '/usr/bin/python3';

const succeed = { script: '#!/bin/sh\nexit 0\n' };

/** Installs the gateway's environment once per process, again after a failure. */
let gatewayInstall: Promise<void> | undefined;
function installGateway(): Promise<void> {
  gatewayInstall ??= pythonOf('gateway').then(
    () => undefined,
    (error: unknown) => {
      gatewayInstall = undefined;
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `the emulator's kernel gateway image is a Python environment installed from PyPI, and installing it failed (reach PyPI, or run \`node --import tsx test/support/pythonEnvironments.ts\` once online): ${message}`,
      );
    },
  );
  return gatewayInstall;
}

const gatewayEnvironment = venvDir(pythonEnvironments.gateway);

/**
 * The seed's default gateway image: its command (`mamba install ... && fix-permissions ...;
 * python -m jupyter kernelgateway ...`) runs unchanged, the install steps succeeding as they do
 * once the packages are present. Its conda environment, with the real Jupyter Kernel Gateway, is a
 * pinned virtual environment, first on PATH as /opt/conda/bin is in the real image; its kernels
 * are Debian's ipykernel and matplotlib (the python3 kernelspec under /usr/share/jupyter).
 */
const dockerStacksFoundation: Partial<ImageDefinition> = {
  commands: { mamba: succeed, conda: succeed, 'fix-permissions': succeed },
  env: {
    PATH: `${gatewayEnvironment}/bin:${basePath}`,
    LANG: 'C.UTF-8',
    CONDA_DIR: '/opt/conda',
    NB_USER: 'jovyan',
  },
  cmd: ['start-notebook.py'],
  contents: { directories: [gatewayEnvironment], pull: installGateway },
};

const builtIn: Record<string, Partial<ImageDefinition>> = {
  'quay.io/jupyter/docker-stacks-foundation': dockerStacksFoundation,
  'jupyter/docker-stacks-foundation': dockerStacksFoundation,
  // Debian marks its Python as managed by apt (PEP 668); the official image's Python is its own,
  // so pip installs into /usr/local there, as it does here with the marker waived.
  python: {
    commands: { python: hostPython, python3: hostPython },
    env: { LANG: 'C.UTF-8', PIP_BREAK_SYSTEM_PACKAGES: '1' },
    cmd: ['python3'],
  },
  busybox: { cmd: ['sh'] },
  debian: { cmd: ['bash'] },
  ubuntu: { cmd: ['bash'] },
};

/** The repository part of a reference, without registry defaults, tag or digest. */
export function imageName(reference: string): string {
  let name = reference.split('@')[0]!;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) {
    name = name.slice(0, colon);
  }
  return name.replace(/^(docker\.io\/)?(library\/)?/, '');
}

export function registryHost(reference: string): string | undefined {
  const first = reference.split('/')[0]!;
  return reference.includes('/') &&
    (first.includes('.') || first.includes(':') || first === 'localhost')
    ? first
    : undefined;
}

export class ImageCatalog {
  private readonly definitions: Record<string, Partial<ImageDefinition>>;

  constructor(private readonly options: ImageCatalogOptions = {}) {
    this.definitions = { ...builtIn, ...options.images };
  }

  resolve(reference: string): ImageResolution {
    const name = imageName(reference);
    const host = registryHost(reference);
    const unpullable = this.options.unpullable ?? [];
    if (host === 'invalid.example' || unpullable.includes(reference) || unpullable.includes(name)) {
      const repository = host ? reference.split(':')[0] : `docker.io/library/${name}`;
      return {
        ok: false,
        reason: `rpc error: code = NotFound desc = failed to pull and unpack image "${reference}": failed to resolve reference "${reference}": ${repository}: not found`,
      };
    }
    const definition = this.definitions[name] ?? {};
    return {
      ok: true,
      image: {
        commands: definition.commands ?? {},
        env: { PATH: basePath, ...definition.env },
        entrypoint: definition.entrypoint ?? [],
        cmd: definition.cmd ?? ['sh'],
        pullDelayMs: definition.pullDelayMs ?? this.options.defaultPullDelayMs ?? 0,
        ...(definition.contents ? { contents: definition.contents } : {}),
      },
    };
  }
}
