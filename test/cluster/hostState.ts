import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileAsync } from './processes.ts';

const cgroupRoot = '/sys/fs/cgroup';
const netnsDir = '/var/run/netns';

/** The kubelet sets these unless protectKernelDefaults; they are put back on stop. */
const kubeletSysctls = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

export async function saveSysctls(): Promise<Map<string, string>> {
  const saved = new Map<string, string>();
  for (const name of kubeletSysctls) {
    const path = join('/proc/sys', name);
    if (existsSync(path)) {
      saved.set(path, (await readFile(path, 'utf8')).trim());
    }
  }
  return saved;
}

export async function restoreSysctls(saved: Map<string, string>): Promise<void> {
  for (const [path, value] of saved) {
    await writeFile(path, value).catch(() => undefined);
  }
}

export function isMountPoint(path: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === path);
}

/** containerd bind-mounts the namespace directory onto itself (to share it) on first use. */
export async function unmountNetworkNamespaceDir(wasMountPoint: boolean): Promise<void> {
  for (const path of ['/run/netns', netnsDir]) {
    if (!wasMountPoint && isMountPoint(path) && readdirSync(path).length === 0) {
      await execFileAsync('umount', [path]).catch(() => undefined);
    }
  }
}

export function listNetworkNamespaces(): Set<string> {
  return new Set(existsSync(netnsDir) ? readdirSync(netnsDir) : []);
}

/** Unmounts and removes the pod network namespaces that appeared since `before`. */
export async function removeNewNetworkNamespaces(before: Set<string>): Promise<void> {
  for (const name of listNetworkNamespaces()) {
    if (!before.has(name)) {
      const path = join(netnsDir, name);
      await execFileAsync('umount', ['-l', path]).catch(() => undefined);
      await rm(path, { force: true });
    }
  }
}

/** Unmounts, deepest first, every mount point under `dir` (overlay rootfs, shm, volumes). */
export async function unmountUnder(dir: string): Promise<void> {
  const mountPoints = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((point): point is string => !!point && (point === dir || point.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of mountPoints) {
    await execFileAsync('umount', ['-l', point]).catch(() => undefined);
  }
}

/** The cgroup directories named `name` at the top of each v1 hierarchy. */
function topCgroups(name: string): string[] {
  if (!existsSync(cgroupRoot)) {
    return [];
  }
  return readdirSync(cgroupRoot)
    .map((hierarchy) => join(cgroupRoot, hierarchy, name))
    .filter((path) => existsSync(path) && statSync(path).isDirectory());
}

function cgroupTree(dir: string): string[] {
  const children = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => cgroupTree(join(dir, entry.name)));
  return [...children, dir];
}

/** Kills every process left in the kubepods cgroups (containers outlive their shims). */
export function killCgroupProcesses(name: string): void {
  for (const top of topCgroups(name)) {
    for (const dir of cgroupTree(top)) {
      const procs = join(dir, 'cgroup.procs');
      const pids = existsSync(procs) ? readFileSync(procs, 'utf8').split('\n') : [];
      for (const pid of pids.filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}

export async function removeCgroups(name: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const left = topCgroups(name);
    if (left.length === 0) {
      return;
    }
    for (const top of left) {
      for (const dir of cgroupTree(top)) {
        await rmdir(dir).catch(() => undefined);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`cgroups left behind: ${topCgroups(name).join(', ')}`);
}

/** Kills processes whose command line mentions `marker` (shims started by our containerd). */
export function killProcessesMentioning(marker: string): void {
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let commandLine = '';
    try {
      commandLine = readFileSync(join('/proc', pid, 'cmdline'), 'utf8');
    } catch {
      continue;
    }
    if (commandLine.includes(marker) && Number(pid) !== process.pid) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export async function deleteLink(name: string): Promise<void> {
  await execFileAsync('ip', ['link', 'delete', name]).catch(() => undefined);
}

/** Where kube-controller-manager's host-path provisioner makes volumes (its fixed base path). */
export const hostPathVolumesDir = '/tmp/hostpath_pv';

/**
 * Removes the provisioned volume directories that appeared since `before` (a claim deleted with
 * Delete removes its own; a Retain volume's or a crashed run's would stay), and the base directory
 * if the run created it.
 */
export async function removeNewHostPathVolumes(before: Set<string> | undefined): Promise<void> {
  if (!existsSync(hostPathVolumesDir)) {
    return;
  }
  if (before === undefined) {
    await rm(hostPathVolumesDir, { recursive: true, force: true });
    return;
  }
  for (const name of readdirSync(hostPathVolumesDir)) {
    if (!before.has(name)) {
      await rm(join(hostPathVolumesDir, name), { recursive: true, force: true });
    }
  }
}

/** The volume directories there now; undefined when the base directory does not exist. */
export function listHostPathVolumes(): Set<string> | undefined {
  return existsSync(hostPathVolumesDir) ? new Set(readdirSync(hostPathVolumesDir)) : undefined;
}
