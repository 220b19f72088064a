import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { execFileAsync } from './processes.ts';

export const kubernetesVersion = 'v1.33.13';
const stagingVersion = 'v0.33.13';
const goBinary = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';

export const kubernetesCommands = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
] as const;
export type KubernetesCommand = (typeof kubernetesCommands)[number];

export function cacheRoot(): string {
  return join(homedir(), '.cache', 'pod-runner');
}

/** The directory holding the four binaries, built from source on first use. */
export async function ensureKubernetesBinaries(log: (line: string) => void): Promise<string> {
  const binDir = join(cacheRoot(), `kubernetes-${kubernetesVersion}`);
  if (kubernetesCommands.every((command) => existsSync(join(binDir, command)))) {
    return binDir;
  }
  const buildDir = join(cacheRoot(), `build-${kubernetesVersion}`);
  const partialDir = `${binDir}.partial`;
  await mkdir(buildDir, { recursive: true });
  await mkdir(partialDir, { recursive: true });
  const env = { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
  await writeFile(join(buildDir, 'go.mod'), await buildModuleFile(buildDir, env));
  log(`building Kubernetes ${kubernetesVersion} from source (10-20 min on 2 cores)...`);
  const started = Date.now();
  const packages = kubernetesCommands.map((command) => `k8s.io/kubernetes/cmd/${command}`);
  await runLogged(
    goBinary,
    ['build', '-ldflags', versionLinkerFlags(), '-o', `${partialDir}/`, ...packages],
    buildDir,
    env,
    join(buildDir, 'build.log'),
  );
  await rm(binDir, { recursive: true, force: true });
  await rename(partialDir, binDir);
  log(`built Kubernetes ${kubernetesVersion} in ${Math.round((Date.now() - started) / 1000)} s`);
  return binDir;
}

/**
 * k8s.io/kubernetes points its staging modules at ./staging, which a module download lacks, so
 * each one is replaced by its published version.
 */
async function buildModuleFile(buildDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await execFileAsync(
    goBinary,
    ['mod', 'download', '-json', `k8s.io/kubernetes@${kubernetesVersion}`],
    { cwd: buildDir, env },
  );
  const { GoMod } = JSON.parse(stdout) as { GoMod: string };
  const upstream = await readFile(GoMod, 'utf8');
  const staging = [...upstream.matchAll(/^\s*(k8s\.io\/\S+)\s+=>\s+\.\/staging\//gm)].map(
    (match) => match[1],
  );
  if (staging.length === 0) {
    throw new Error(`no staging modules found in ${GoMod}`);
  }
  const replaces = staging.map((module) => `\t${module} => ${module} ${stagingVersion}`);
  return [
    'module podrunner.local/kubebuild',
    '',
    'go 1.24',
    '',
    `require k8s.io/kubernetes ${kubernetesVersion}`,
    '',
    'replace (',
    ...replaces,
    ')',
    '',
  ].join('\n');
}

function versionLinkerFlags(): string {
  const minor = kubernetesVersion.split('.')[1] ?? '';
  return ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((pkg) => [
      `-X ${pkg}.gitVersion=${kubernetesVersion}`,
      `-X ${pkg}.gitMajor=1`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ])
    .join(' ');
}

async function runLogged(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  logPath: string,
): Promise<void> {
  const logFd = openSync(logPath, 'w');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { cwd, env, stdio: ['ignore', logFd, logFd] });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} failed; see ${logPath}`)),
      );
    });
  } finally {
    closeSync(logFd);
  }
}
