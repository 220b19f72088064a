import { createHash } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import type { WebSocketFactory } from '../../src/core/podExec.ts';
import type { ImageCatalogOptions } from '../emulator/kubelet/imageCatalog.ts';
import { execFileAsync } from './emulatorFixture.ts';

/** Keeps a Python-only container alive until SIGTERM. */
export const pythonKeepAlive = [
  'python3',
  '-c',
  'import signal, time\nsignal.signal(signal.SIGTERM, lambda *_: exit(0))\nwhile True: time.sleep(5)',
];

/**
 * The tests' images of a few tools, without tar, rsync or a shell's usual tools on PATH: busybox's
 * sh alone (an Alpine without Python: its head reads ahead from a pipe), dash with GNU head and the
 * file tools (a slim Debian without Python), Python alone (no sh at all), and the tools an exec
 * needs without Python. The emulator serves them from its catalog; the cluster tier builds real
 * images from the same definitions (test/cluster/toolImages.ts).
 */
export const minimalImages = {
  'busybox-sh-only': { commands: { sh: '/bin/busybox' }, env: { PATH: '/usr/local/bin' } },
  'dash-gnu-head': {
    commands: {
      sh: '/bin/dash',
      ...Object.fromEntries(
        ['head', 'mkdir', 'mv', 'rm', 'rmdir', 'chmod', 'ln'].map((tool) => [tool, `/bin/${tool}`]),
      ),
    },
    env: { PATH: '/usr/local/bin' },
  },
  'python-only': {
    commands: { python3: '/usr/bin/python3' },
    env: { PATH: '/usr/local/bin' },
    cmd: pythonKeepAlive,
  },
  'coreutils-no-python': {
    commands: Object.fromEntries(
      [
        'sh',
        'env',
        'head',
        'wc',
        'mv',
        'grep',
        'rm',
        'mkdir',
        'timeout',
        'setsid',
        'realpath',
        'sleep',
      ].map((tool) => [tool, `/usr/bin/${tool}`]),
    ),
    env: { PATH: '/usr/local/bin' },
  },
} satisfies NonNullable<ImageCatalogOptions['images']>;

export type TreeSpec = Record<
  string,
  string | { content: string; mode: number } | { link: string }
>;

/** Writes files, executable files and symlinks under `root`. */
export function writeTree(root: string, files: TreeSpec): void {
  mkdirSync(root, { recursive: true });
  for (const [path, spec] of Object.entries(files)) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    if (typeof spec === 'string') {
      writeFileSync(target, spec);
    } else if ('link' in spec) {
      symlinkSync(spec.link, target);
    } else {
      writeFileSync(target, spec.content);
      chmodSync(target, spec.mode);
    }
  }
}

/**
 * Every file and symlink under `dir` (folders too with `withFolders`): path → `file <mode> <sha256>`,
 * `link <target>` or `folder`.
 */
export function snapshot(dir: string, withFolders = false): Record<string, string> {
  const result: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative))) {
      const path = relative ? `${relative}/${name}` : name;
      const stats = lstatSync(join(dir, path));
      if (stats.isSymbolicLink()) {
        result[path] = `link ${readlinkSync(join(dir, path))}`;
      } else if (stats.isDirectory()) {
        if (withFolders) {
          result[path] = 'folder';
        }
        walk(path);
      } else {
        const hash = createHash('sha256')
          .update(readFileSync(join(dir, path)))
          .digest('hex');
        result[path] = `file ${(stats.mode & 0o777).toString(8)} ${hash.slice(0, 16)}`;
      }
    }
  };
  walk('');
  return Object.fromEntries(Object.entries(result).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * What the pod holds under `root`, as a snapshot: /bin/tar packs it in the pod (by its absolute
 * path, so the image's PATH does not matter: the host's in the emulator's catalog images, else
 * that of `container`, one with a tar sharing the volume) and it is unpacked into `scratch`.
 */
export async function remoteSnapshot(
  kubeconfig: string,
  pod: string,
  root: string,
  scratch: string,
  withFolders = false,
  container?: string,
): Promise<Record<string, string>> {
  mkdirSync(scratch, { recursive: true });
  await execFileAsync('sh', [
    '-c',
    'kubectl --kubeconfig "$1" exec "$2" $5 -- /bin/tar -C "$3" -cf - . | tar -x -C "$4"',
    'sh',
    kubeconfig,
    pod,
    root,
    scratch,
    container ? `--container=${container}` : '',
  ]);
  return snapshot(scratch, withFolders);
}

/**
 * Runs a shell command in the pod with /bin/sh and the tools in /usr/bin and /bin: in an image of
 * the emulator's catalog they are the host's; in a minimal image, name a container that has them.
 */
export async function inPod(
  kubeconfig: string,
  pod: string,
  script: string,
  container?: string,
): Promise<string> {
  const { stdout } = await execFileAsync('kubectl', [
    '--kubeconfig',
    kubeconfig,
    'exec',
    pod,
    ...(container ? ['--container', container] : []),
    '--',
    '/bin/sh',
    '-c',
    `PATH=/usr/bin:/bin; ${script}`,
  ]);
  return stdout;
}

/**
 * Opens WebSockets as usual; after `holdNext()`, the next exec that sends more than one frame
 * of stdin sends only its first frame and keeps the rest until `release()`.
 */
export function stdinGate() {
  let armed = false;
  let held: (() => void) | undefined;
  let opened: (() => void) | undefined;
  const factory: WebSocketFactory = (url, protocols, options) => {
    const socket = new WebSocket(url, protocols, options);
    type Callback = (error?: Error) => void;
    const send = socket.send.bind(socket) as (data: Buffer, callback?: Callback) => void;
    let queue: [Buffer, Callback | undefined][] | undefined;
    socket.send = ((data: Buffer, callback?: Callback) => {
      if (queue) {
        // ws masks a client frame into its own buffer as it sends it: the caller may reuse `data`.
        queue.push([Buffer.from(data), callback]);
        return;
      }
      send(data, callback);
      if (armed && data.length > 1024 * 1024) {
        armed = false;
        queue = [];
        held = () => {
          const frames = queue ?? [];
          queue = undefined;
          for (const [frame, frameCallback] of frames) {
            if (socket.readyState === WebSocket.OPEN) {
              send(frame, frameCallback);
            } else {
              frameCallback?.(new Error('the socket closed while its frame was held'));
            }
          }
        };
        opened?.();
      }
    }) as typeof socket.send;
    return socket;
  };
  return {
    factory,
    /** Holds the next large stdin; resolves once its first frame went out. */
    holdNext(): Promise<void> {
      armed = true;
      return new Promise((resolve) => (opened = resolve));
    },
    release() {
      held?.();
      held = undefined;
    },
  };
}

/** The inotify watches this process holds, as the kernel counts them. */
export function inotifyWatches(): number {
  let watches = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    const link = (() => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })();
    if (link === 'anon_inode:inotify') {
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      watches += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
    }
  }
  return watches;
}

/**
 * A WebSocket factory whose next exec loses every stdout message (channel 1) on its way in: the
 * pod runs the command to its end, and the client never hears what it printed.
 */
export function stdoutDropper() {
  let armed = false;
  const factory: WebSocketFactory = (url, protocols, options) => {
    const socket = new WebSocket(url, protocols, options);
    const dropping = armed;
    armed = false;
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string, ...args: unknown[]) => {
      const data = args[0];
      if (dropping && event === 'message' && Buffer.isBuffer(data) && data[0] === 1) {
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    return socket;
  };
  return {
    factory,
    /** The next exec opened loses its stdout. */
    dropNext() {
      armed = true;
    },
  };
}
