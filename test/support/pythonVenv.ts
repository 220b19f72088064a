import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root: its `.cache` folder is git-ignored, so a fresh clone installs anew. */
const repoRoot = join(__dirname, '..', '..');

/** A virtual environment under `.cache/<name>` with pinned packages from PyPI. */
export interface PythonVenvSpec {
  /** The folder's name under `.cache`. */
  name: string;
  /** Exact pins, `distribution==version`: what is installed is checked against them. */
  packages: readonly string[];
  /** Sees Debian's packages too (python3-ipykernel and the like) where the pins do not replace them. */
  systemSitePackages?: boolean;
}

/** Runs a process to its end; its exit code and output. */
export function runToEnd(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? repoRoot,
      ...(options.env ? { env: options.env } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The folder of a spec's environment. */
export function venvDir(spec: Pick<PythonVenvSpec, 'name'>): string {
  return join(repoRoot, '.cache', spec.name);
}

function pinOf(requirement: string): [string, string] {
  const [distribution, version] = requirement.split('==');
  if (!distribution || !version) {
    throw new Error(`a venv package must be pinned as name==version, not ${requirement}`);
  }
  return [distribution, version];
}

/** Which pins the environment's Python does not have at their version. */
async function missingPins(python: string, spec: PythonVenvSpec): Promise<string[]> {
  if (!existsSync(python)) {
    return [...spec.packages];
  }
  const distributions = spec.packages.map((requirement) => pinOf(requirement)[0]);
  const { code, stdout } = await runToEnd(python, [
    '-c',
    'import importlib.metadata as m, json, sys\n' +
      'def version(d):\n  try:\n    return m.version(d)\n  except m.PackageNotFoundError:\n    return None\n' +
      'print(json.dumps([version(d) for d in sys.argv[1:]]))',
    ...distributions,
  ]);
  if (code !== 0) {
    return [...spec.packages];
  }
  const versions = JSON.parse(stdout) as (string | null)[];
  return spec.packages.filter((requirement, index) => versions[index] !== pinOf(requirement)[1]);
}

async function mustRun(what: string, command: string, args: readonly string[]): Promise<void> {
  const { code, stdout, stderr } = await runToEnd(command, args, { timeoutMs: 600_000 });
  if (code !== 0) {
    throw new Error(`${what} failed (exit ${String(code)}):\n${stdout}${stderr}`);
  }
}

/**
 * The Python of a virtual environment with the spec's pins, created (with Debian's python3-venv)
 * and installed from PyPI when missing or at another version. Fails loudly: a test or a bench row
 * that needs it must not skip.
 */
export async function pythonVenv(spec: PythonVenvSpec): Promise<string> {
  const dir = venvDir(spec);
  const python = join(dir, 'bin', 'python');
  if ((await missingPins(python, spec)).length === 0) {
    return python;
  }
  if (!existsSync(python)) {
    await mustRun(`creating the virtual environment ${dir}`, '/usr/bin/python3', [
      '-m',
      'venv',
      ...(spec.systemSitePackages ? ['--system-site-packages'] : []),
      dir,
    ]);
  }
  await mustRun(`installing ${spec.packages.join(' ')} from PyPI`, python, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    ...spec.packages,
  ]);
  const missing = await missingPins(python, spec);
  if (missing.length > 0) {
    throw new Error(`${dir}: ${missing.join(', ')} installed, but other versions are found`);
  }
  return python;
}
