import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { attachPodNetwork } from './podNetwork.ts';

/**
 * Linux-namespace sandboxes for pods: a "pause" process owns each pod's network, UTS and IPC
 * namespaces, and every container gets its own mount and PID namespaces with a tmpfs root made
 * of the host's read-only system directories. Needs root (unshare/nsenter).
 */

const readyMarker = '\n--pod-runner-container-ready--\n';
const hostPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const toolEnv = { PATH: hostPath, LANG: 'C.UTF-8' };
export const sandboxMarkerVariable = 'POD_RUNNER_EMULATOR_SANDBOX';

/** The environment of the emulator's own helper processes, marked so leak checks can find them. */
export function helperEnv(sandboxDirectory: string): NodeJS.ProcessEnv {
  return { ...toolEnv, [sandboxMarkerVariable]: sandboxDirectory };
}

export function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Throws a clear error when this machine cannot make the namespaces pods need. */
export function assertSandboxSupport(): void {
  const missing = ['unshare', 'nsenter', 'setpriv', 'ip', 'mount', 'chroot'].filter(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { env: toolEnv }).status !== 0,
  );
  if (missing.length > 0) {
    throw new Error(
      `the emulator needs these commands to run pods: ${missing.join(', ')} (Debian: util-linux, iproute2, mount, coreutils)`,
    );
  }
  const probe = spawnSync(
    'unshare',
    ['--mount', '--pid', '--net', '--uts', '--ipc', '--fork', 'true'],
    { env: toolEnv },
  );
  if (probe.status !== 0) {
    throw new Error(
      `the emulator cannot create Linux namespaces for pods (unshare failed: ${probe.stderr.toString().trim() || `exit ${String(probe.status)}`}); it must run as root on Linux with unprivileged namespace creation allowed`,
    );
  }
}

export interface PodSandbox {
  readonly pausePid: number;
  /** The address of the pod's eth0. */
  readonly podIP: string;
  readonly directory: string;
  stop(): Promise<void>;
}

/**
 * Starts the pod's pause process: new network (loopback up, then eth0 with egress), UTS
 * (hostname) and IPC namespaces.
 */
export async function createPodSandbox(directory: string, hostname: string): Promise<PodSandbox> {
  await mkdir(directory, { recursive: true });
  const child = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      'unshare',
      '--net',
      '--uts',
      '--ipc',
      '--',
      '/bin/sh',
      '-c',
      'hostname "$1" && ip link set lo up && exec sleep infinity',
      'pause',
      hostname,
    ],
    { env: helperEnv(directory), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error('could not start the pod sandbox process');
  }
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The sandbox is ready once `sleep` has replaced the shell (the namespaces are set up by then).
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the pod sandbox exited during setup: ${stderr.trim()}`);
    }
    if (processName(pid) === 'sleep') {
      break;
    }
    await delay(5);
  }
  const network = await attachPodNetwork(pid).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });
  return {
    pausePid: pid,
    podIP: network.podIP,
    directory,
    async stop() {
      await network.detach();
      child.kill('SIGKILL');
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface VolumeBind {
  hostPath: string;
  mountPath: string;
  readOnly: boolean;
}

export interface ContainerLaunch {
  sandbox: PodSandbox;
  /** Unique per container run, a directory name under the sandbox directory. */
  runId: string;
  argv: string[];
  env: Record<string, string>;
  workingDir: string;
  /** The image's commands for /usr/local/bin: name → host path, or a script to write. */
  commands: Record<string, string | { script: string }>;
  volumes: VolumeBind[];
  /** securityContext.readOnlyRootFilesystem: the root (with /tmp) is read-only; mounts are not. */
  readOnlyRootFilesystem: boolean;
  etcHosts: string;
  /**
   * Receives the container's output from the moment it starts (Node discards the output of a
   * child that exits before anyone reads its pipes).
   */
  onOutput: (chunk: Buffer) => void;
}

export interface ContainerProcess {
  /** Host pid of the container's PID 1. */
  readonly pid: number;
  /** Resolves when PID 1 exits; `startError` when the runtime could not start the command. */
  readonly exit: Promise<{ exitCode: number; signal?: string; startError?: string }>;
  /** Set when the runtime could not start the command (missing executable, bad mount). */
  readonly startError: string | undefined;
  kill(signal: NodeJS.Signals): void;
}

/** Starts a container as PID 1 of new mount and PID namespaces inside the pod's sandbox. */
export async function startContainer(launch: ContainerLaunch): Promise<ContainerProcess> {
  const runDir = join(launch.sandbox.directory, launch.runId);
  const root = join(runDir, 'rootfs');
  const binDir = join(runDir, 'bin');
  await mkdir(root, { recursive: true });
  await mkdir(binDir, { recursive: true });
  for (const [name, target] of Object.entries(launch.commands)) {
    if (typeof target === 'string') {
      await symlink(target, join(binDir, name));
    } else {
      await writeFile(join(binDir, name), target.script, { mode: 0o755 });
    }
  }
  const hostsFile = join(runDir, 'hosts');
  await writeFile(hostsFile, launch.etcHosts);
  const script = join(runDir, 'setup.sh');
  await writeFile(script, containerSetupScript(launch, root, binDir, hostsFile));
  const ns = `/proc/${launch.sandbox.pausePid}/ns`;
  const child = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      'nsenter',
      `--net=${ns}/net`,
      `--uts=${ns}/uts`,
      `--ipc=${ns}/ipc`,
      '--',
      'unshare',
      '--mount',
      '--pid',
      '--fork',
      '--kill-child=SIGKILL',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      script,
    ],
    // fd 2 is unshare's own diagnostics; the container's stderr is fd 4 until the final exec.
    { env: helperEnv(launch.sandbox.directory), stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] },
  );
  let diagnostics = '';
  child.stderr!.on('data', (chunk: Buffer) => (diagnostics += chunk.toString()));
  child.stdout!.on('data', launch.onOutput);
  (child.stdio[4] as Readable).on('data', launch.onOutput);
  // The setup script reports on fd 3: its errors, then a ready marker just before it hands over to
  // the command. (unshare keeps its own copy of fd 3 open, so end-of-file comes only at exit.)
  const setupReport = child.stdio[3] as Readable;
  let report = '';
  let startError = '';
  const setupDone = new Promise<void>((resolve) => {
    setupReport.on('data', (chunk: Buffer) => {
      report += chunk.toString();
      if (report.endsWith(readyMarker)) {
        resolve();
      }
    });
    setupReport.once('close', () => {
      if (!report.endsWith(readyMarker)) {
        startError = report.trim() || 'container setup failed';
      }
      resolve();
    });
  });
  const setupClosed = new Promise<void>((resolve) => setupReport.once('close', resolve));
  const exit = new Promise<{ exitCode: number; signal?: string; startError?: string }>(
    (resolve) => {
      // 'close' waits for the output pipes too, so the log is complete when the exit is reported;
      // when PID 1 dies the kernel kills the rest of its PID namespace, which closes them.
      child.once('close', (code, signal) => {
        void setupClosed.then(() => {
          void rm(runDir, { recursive: true, force: true });
          // unshare re-raises the child's terminating signal, except SIGKILL, which it cannot
          // re-raise: it reports "sigprocmask unblock failed" and exits 1 instead.
          const killed = code === 1 && diagnostics.includes('sigprocmask unblock failed');
          const finalSignal = killed ? 'SIGKILL' : (signal ?? undefined);
          const exitCode = finalSignal ? 128 + signalNumber(finalSignal) : (code ?? 0);
          resolve({
            exitCode,
            ...(finalSignal ? { signal: finalSignal } : {}),
            ...(startError ? { startError } : {}),
          });
        });
      });
    },
  );
  await setupDone;
  const pid = startError ? undefined : await childPidOf(child);
  return {
    pid: pid ?? -1,
    startError: startError || undefined,
    exit,
    kill(signal) {
      if (pid !== undefined) {
        try {
          process.kill(pid, signal);
        } catch {
          // Already gone.
        }
      }
    },
  };
}

function containerSetupScript(
  launch: ContainerLaunch,
  root: string,
  binDir: string,
  hostsFile: string,
): string {
  const r = quote(root);
  const lines = [
    'set -e',
    'exec 2>&3',
    'fail() { printf "%s" "$1" >&3; exit 128; }',
    `mount -t tmpfs -o mode=0755 rootfs ${r}`,
    `cd ${r}`,
  ];
  // The image's directories: read-only binds under readOnlyRootFilesystem; otherwise each is an
  // overlay with an upper directory in the container's writable layer, so the root is writable as
  // a real image's is (pip, apt, /etc edits) and the writes go with the container. The layer is a
  // tmpfs of the container's own mount namespace: overlayfs refuses an upper directory on overlayfs
  // (the state directory inside a container).
  const layer = quote(join(root, '..', 'layer'));
  if (!launch.readOnlyRootFilesystem) {
    lines.push(`mkdir -p ${layer} && mount -t tmpfs -o mode=0755 layer ${layer}`);
  }
  const imageDir = (dir: string) =>
    launch.readOnlyRootFilesystem
      ? `mkdir ${dir} && mount --rbind /${dir} ${dir} && mount -o remount,bind,ro ${dir} && readOnlySubmounts ${dir}`
      : `mkdir ${dir} ${layer}/${dir} ${layer}/${dir}.work && mount -t overlay overlay -o lowerdir=/${dir},upperdir=${layer}/${dir},workdir=${layer}/${dir}.work ${dir} && overlaySubmounts ${dir}`;
  // An overlay's lower layer is one filesystem: what the host mounts inside it (its own
  // /usr/local, a bind-mounted /etc/resolv.conf) is laid over it the same way, a directory as an
  // overlay with an upper directory of its own, a file copied into the container's layer, so no
  // write in the container reaches the host.
  lines.push(
    // A recursive bind is read-only at its top alone: each mount nested in it is made so too.
    `readOnlySubmounts() { awk -v p="/$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | while read -r m; do [ -e ".$m" ] && mount -o remount,bind,ro ".$m"; done; }`,
    `overlaySubmounts() { n=0; awk -v p="/$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | while read -r m; do n=$((n + 1)); if [ -d "$m" ] && [ -d ".$m" ]; then mkdir ${layer}/sub$1$n ${layer}/sub$1$n.work && mount -t overlay overlay -o lowerdir="$m",upperdir=${layer}/sub$1$n,workdir=${layer}/sub$1$n.work ".$m"; elif [ -f "$m" ] && [ -e ".$m" ]; then cat "$m" > ".$m"; fi; done; }`,
  );
  for (const dir of ['usr', 'etc', 'opt']) {
    lines.push(`if [ -d /${dir} ]; then ${imageDir(dir)}; fi`);
  }
  for (const dir of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    lines.push(
      `if [ -L /${dir} ]; then ln -s "$(readlink /${dir})" ${dir}; elif [ -d /${dir} ]; then ${imageDir(dir)}; fi`,
    );
  }
  lines.push(
    `mount --bind ${quote(binDir)} usr/local/bin`,
    `mount --bind ${quote(hostsFile)} etc/hosts`,
    'mkdir proc dev sys tmp root home run var var/tmp',
    'mount -t proc proc proc',
    // As runc mounts it for a container that is not privileged: read-only.
    'mount -t sysfs -o ro,nosuid,nodev,noexec sysfs sys',
    'mount -t tmpfs -o mode=0755 dev dev',
    'for node in null zero full random urandom tty; do touch dev/$node && mount --bind /dev/$node dev/$node; done',
    'mkdir dev/pts dev/shm && mount -t tmpfs -o mode=1777 shm dev/shm',
    '{ mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts dev/pts && ln -s pts/ptmx dev/ptmx; } 2>/dev/null || true',
    'ln -s /proc/self/fd dev/fd && ln -s /proc/self/fd/0 dev/stdin && ln -s /proc/self/fd/1 dev/stdout && ln -s /proc/self/fd/2 dev/stderr',
    // As with runc, /tmp is part of the root filesystem: read-only with it.
    launch.readOnlyRootFilesystem
      ? 'chmod 1777 tmp var/tmp'
      : 'mount -t tmpfs -o mode=1777 tmp tmp && chmod 1777 var/tmp',
  );
  for (const volume of launch.volumes) {
    const target = quote(`.${volume.mountPath}`);
    lines.push(
      `mkdir -p ${target} 2>/dev/null || fail ${quote(`failed to create mount point ${volume.mountPath}`)}`,
      `mount --bind ${quote(volume.hostPath)} ${target}`,
    );
    if (volume.readOnly) {
      lines.push(`mount -o remount,bind,ro ${target}`);
    }
  }
  const workingDir = launch.workingDir || '/';
  lines.push(`mkdir -p ${quote(`.${workingDir}`)}`);
  if (launch.readOnlyRootFilesystem) {
    lines.push(`mount -o remount,ro ${r}`);
  }
  const command = launch.argv[0] ?? '';
  const notFound = `exec: "${command}": executable file not found in $PATH`;
  lines.push(
    `chroot ${r} /usr/bin/env -i PATH=${quote(launch.env.PATH ?? hostPath)} /bin/sh -c 'command -v "$1" >/dev/null 2>&1' sh ${quote(command)} || fail ${quote(notFound)}`,
    'cd /',
    `printf '%s' ${quote(readyMarker)} >&3`,
    'exec 2>&4 3>&- 4>&-',
    `exec chroot ${r} /usr/bin/env -i -C ${quote(workingDir)} -- ${Object.entries(launch.env)
      .map(([k, v]) => quote(`${k}=${v}`))
      .join(' ')} ${launch.argv.map(quote).join(' ')}`,
  );
  return lines.join('\n') + '\n';
}

function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The host pid of the process `unshare --fork` started (the container's PID 1). */
async function childPidOf(child: ChildProcess): Promise<number | undefined> {
  const pid = child.pid;
  if (pid === undefined) {
    return undefined;
  }
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      return undefined;
    }
    if (processName(pid) === 'unshare') {
      try {
        const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
        if (children) {
          return Number(children.split(/\s+/)[0]);
        }
      } catch {
        // The process is changing; try again.
      }
    }
    await delay(2);
  }
  return undefined;
}

const signalNumbers: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** A signal's number (0 for none or an unknown one), as exit codes 128 + n use it. */
export function signalNumber(signal: string | null | undefined): number {
  return signal ? (signalNumbers[signal] ?? 0) : 0;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
