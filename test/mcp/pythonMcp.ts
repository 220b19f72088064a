import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runProcess } from './mcpHarness.ts';

/** The version of Python's `mcp` package (PyPI) the independent-client test uses. */
export const pythonMcpVersion = '2.3.0';

/** Git-ignored, so a fresh clone installs it on its first `npm test`. */
const venvDir = join(repoRoot, '.cache', 'python-mcp');

async function installedVersion(python: string): Promise<string | undefined> {
  if (!existsSync(python)) {
    return undefined;
  }
  const { code, stdout } = await runProcess(python, [
    '-c',
    'import importlib.metadata as m; print(m.version("mcp"))',
  ]);
  return code === 0 ? stdout.trim() : undefined;
}

async function mustRun(what: string, command: string, args: string[]): Promise<void> {
  const { code, stdout, stderr } = await runProcess(command, args, { timeoutMs: 300_000 });
  if (code !== 0) {
    throw new Error(`${what} failed (exit ${String(code)}):\n${stdout}${stderr}`);
  }
}

/**
 * The Python of a virtual environment with the pinned `mcp` package, created (with Debian's
 * python3-venv) and installed from PyPI when missing. Fails loudly: the test must not skip.
 */
export async function pythonWithMcp(): Promise<string> {
  const python = join(venvDir, 'bin', 'python');
  if ((await installedVersion(python)) === pythonMcpVersion) {
    return python;
  }
  if (!existsSync(python)) {
    await mustRun('creating the virtual environment', '/usr/bin/python3', ['-m', 'venv', venvDir]);
  }
  await mustRun('installing mcp from PyPI', python, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    `mcp==${pythonMcpVersion}`,
  ]);
  const version = await installedVersion(python);
  if (version !== pythonMcpVersion) {
    throw new Error(`mcp ${pythonMcpVersion} was installed, but ${String(version)} is found`);
  }
  return python;
}
