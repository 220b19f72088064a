import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { emulatorDirectoryPrefix } from './emulator/index.ts';
import { emulatorMounts, podNetworkState, sandboxProcesses } from './support/emulatorFixture.ts';
import {
  auditedTestArguments,
  readSuiteLedger,
  suiteLedgerVariable,
} from './support/suiteLedger.ts';
import { ensurePythonEnvironments } from './support/pythonEnvironments.ts';
import { ensureSystemReady } from './support/systemSetup.ts';
import { clusterTierFiles, runClusterTier } from './support/clusterTier.ts';

/**
 * `npm test`: runs every test file with node:test (one process per file, two at a time), then
 * audits the whole suite: every test process ended with nothing open, every emulator was left
 * without Pod Runner's pods, secrets and services, and no sandbox process, mount or emulator
 * directory outlived the run. The files that use the command-line executor run a second time with
 * its warm runtime off (POD_RUNNER_WARM_RUNTIME=off), so both of its paths pass. Then the cluster
 * tier runs the shared files against a real node (support/clusterTier.ts). File arguments replace
 * the list of test files and run them on the emulator only; `--cluster-only` runs the cluster tier
 * alone (of the files given, or of every shared file). The system packages the suite needs are
 * checked (and, as root on Debian, installed) first.
 */

const root = resolve(__dirname, '..');

function defaultTestFiles(): string[] {
  const testDir = join(root, 'test');
  return readdirSync(testDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) =>
      readdirSync(join(testDir, entry.name))
        .filter((name) => name.endsWith('.test.ts'))
        .map((name) => join(testDir, entry.name, name)),
    )
    .sort();
}

function emulatorDirectories(): Set<string> {
  const parent = dirname(emulatorDirectoryPrefix);
  const prefix = basename(emulatorDirectoryPrefix);
  return new Set(readdirSync(parent).filter((name) => name.startsWith(prefix)));
}

/** The files that run the command-line executor without choosing its warm runtime themselves. */
function executorTestFiles(files: string[]): string[] {
  return files.filter((file) => {
    const text = readFileSync(file, 'utf8');
    return text.includes('PodCommandLineCodeExecutor') && !text.includes('warmRuntime: true');
  });
}

function runTests(
  files: string[],
  ledger: string,
  env: NodeJS.ProcessEnv = {},
  concurrency = 2,
): Promise<number> {
  const args = auditedTestArguments(files, [
    '--test-reporter=spec',
    `--test-concurrency=${concurrency}`,
  ]);
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env, [suiteLedgerVariable]: ledger },
  });
  return new Promise((done) => child.once('exit', (code) => done(code ?? 1)));
}

/** What other emulators on this machine (a developer's `npm start`) had before the suite began. */
interface HostBefore {
  directories: Set<string>;
  sandboxes: Set<string>;
  mounts: Set<string>;
  network: Set<string>;
}

function hostSnapshot(): HostBefore {
  return {
    directories: emulatorDirectories(),
    sandboxes: new Set(sandboxProcesses(emulatorDirectoryPrefix)),
    mounts: new Set(emulatorMounts(emulatorDirectoryPrefix)),
    network: new Set(podNetworkState()),
  };
}

function audit(files: string[], ledger: string, before: HostBefore): string[] {
  const problems: string[] = [];
  const processes = readSuiteLedger(ledger, 'processes');
  for (const file of files) {
    if (!processes.some((record) => resolve(record.file) === file)) {
      problems.push(`${relative(root, file)}: its process did not exit normally (no exit record)`);
    }
  }
  for (const record of processes.filter((entry) => entry.openHandles.length > 0)) {
    problems.push(
      `${relative(root, record.file)}: still open at exit: ${record.openHandles.join('; ')}`,
    );
  }
  const emulators = readSuiteLedger(ledger, 'emulators');
  for (const record of emulators) {
    const left = [...record.pods, ...record.secrets, ...record.services];
    if (left.length > 0) {
      problems.push(`${relative(root, record.file)}: left in its emulator: ${left.join(', ')}`);
    }
  }
  const sandboxes = sandboxProcesses(emulatorDirectoryPrefix).filter(
    (entry) => !before.sandboxes.has(entry),
  );
  if (sandboxes.length > 0) {
    problems.push(`emulator sandbox processes still running: ${sandboxes.join('; ')}`);
  }
  const mounts = emulatorMounts(emulatorDirectoryPrefix).filter(
    (entry) => !before.mounts.has(entry),
  );
  if (mounts.length > 0) {
    problems.push(`mounts left on the host: ${mounts.join('; ')}`);
  }
  const network = podNetworkState().filter((entry) => !before.network.has(entry));
  if (network.length > 0) {
    problems.push(`pod networks left on the host: ${network.join('; ')}`);
  }
  const newDirectories = [...emulatorDirectories()].filter((name) => !before.directories.has(name));
  if (newDirectories.length > 0) {
    problems.push(`emulator directories left in ${tmpdir()}: ${newDirectories.join(', ')}`);
  }
  const count = (key: 'pods' | 'secrets' | 'services') =>
    emulators.reduce((sum, record) => sum + record[key].length, 0);
  process.stdout.write(
    [
      '',
      'Suite audit (after the last test process ended):',
      `  test processes: ${processes.length} of ${files.length} exited, ${processes.reduce((sum, record) => sum + record.openHandles.length, 0)} open handles among them`,
      `  emulators: ${emulators.length} stopped, leaving ${count('pods')} pods, ${count('secrets')} secrets, ${count('services')} services labelled app.kubernetes.io/managed-by=pod-runner`,
      `  host: ${sandboxes.length} sandbox processes, ${mounts.length} mounts, ${newDirectories.length} emulator directories, ${network.length} pod network changes left`,
      '',
    ].join('\n'),
  );
  return problems;
}

async function main(): Promise<void> {
  if (!ensureSystemReady('test')) {
    process.exitCode = 1;
    return;
  }
  await ensurePythonEnvironments((line) => process.stdout.write(`python environment ${line}\n`));
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'cluster-only': { type: 'boolean' } },
  });
  const requested = positionals.map((file) => resolve(file));
  const files = requested.length > 0 ? requested : defaultTestFiles();
  const clusterOnly = values['cluster-only'] === true;
  // The whole suite has both tiers; files named on the command line run on the emulator only.
  const withCluster = clusterOnly || requested.length === 0;
  const ledger = mkdtempSync(join(tmpdir(), 'pod-runner-suite-ledger-'));
  const before = hostSnapshot();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    let testsExit = 0;
    if (!clusterOnly) {
      const warmExit = await runTests(files, ledger);
      const coldFiles = executorTestFiles(files);
      say(`\nSecond pass: ${coldFiles.length} files with the executor's warm runtime off`);
      const coldExit =
        coldFiles.length > 0
          ? await runTests(coldFiles, ledger, { POD_RUNNER_WARM_RUNTIME: 'off' })
          : 0;
      testsExit = warmExit || coldExit;
    }
    if (withCluster) {
      const clusterExit = await runClusterTier(
        clusterTierFiles(files),
        (shared, env) => runTests(shared, ledger, env, 1),
        say,
      );
      testsExit ||= clusterExit;
    }
    const problems = audit(clusterOnly ? clusterTierFiles(files) : files, ledger, before);
    for (const problem of problems) {
      process.stderr.write(`✖ suite audit: ${problem}\n`);
    }
    process.exitCode = testsExit !== 0 || problems.length > 0 ? 1 : 0;
  } finally {
    rmSync(ledger, { recursive: true, force: true });
  }
}

void main();
