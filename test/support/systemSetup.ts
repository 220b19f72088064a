import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { kubectlVersion } from './emulatorFixture.ts';
import { requirements, type Check, type Purpose, type Requirement } from './systemRequirements.ts';

/**
 * The machine set-up behind `npm start`, `npm test` and CI: checks what the emulator, code-server,
 * Jupyter and the browser tests need from the system and, as root on Debian, installs what is
 * missing with apt-get. Elsewhere it prints the command to run and fails. Run it alone with
 * `npm run setup [-- start|test]`.
 */

/** What this machine has, asked in batches so a check costs one python3 and one dpkg-query run. */
export interface SystemProbe {
  commandsFound(names: readonly string[]): Set<string>;
  pythonModulesFound(names: readonly string[]): Set<string>;
  debianPackagesInstalled(names: readonly string[]): Set<string>;
  kubectlVersion(): readonly [number, number] | undefined;
}

/** A requirement that failed its checks, with what exactly was not found. */
export interface MissingRequirement {
  requirement: Requirement;
  problems: string[];
}

export interface SetupPlan {
  /** How many requirements the purpose has. */
  needed: number;
  /** Those that failed a check. */
  missing: MissingRequirement[];
  /** The missing ones apt-get provides (all but those with an install hint). */
  installable: MissingRequirement[];
}

export function planSetup(purpose: Purpose, probe: SystemProbe): SetupPlan {
  const needed = requirements.filter((requirement) => requirement.neededBy.includes(purpose));
  const checks = needed.flatMap((requirement) => requirement.checks);
  const commands = probe.commandsFound(
    checks.flatMap((check) => ('command' in check ? [check.command] : [])),
  );
  const modules = probe.pythonModulesFound(
    checks.flatMap((check) => ('pythonModule' in check ? [check.pythonModule] : [])),
  );
  const packages = probe.debianPackagesInstalled(
    checks.flatMap((check) => ('debianPackage' in check ? [check.debianPackage] : [])),
  );
  const problemOf = (check: Check): string | undefined => {
    if ('command' in check) {
      return commands.has(check.command) ? undefined : `${check.command} not found`;
    }
    if ('pythonModule' in check) {
      return modules.has(check.pythonModule)
        ? undefined
        : `/usr/bin/python3 cannot find module ${check.pythonModule}`;
    }
    if ('debianPackage' in check) {
      return packages.has(check.debianPackage) ? undefined : 'not installed';
    }
    return kubectlProblem(probe.kubectlVersion(), check.kubectlAtLeast);
  };
  const missing = needed.flatMap((requirement) => {
    const problems = requirement.checks.flatMap((check) => problemOf(check) ?? []);
    return problems.length > 0 ? [{ requirement, problems }] : [];
  });
  return {
    needed: needed.length,
    missing,
    installable: missing.filter(({ requirement }) => requirement.installHint === undefined),
  };
}

function kubectlProblem(
  version: readonly [number, number] | undefined,
  minimum: readonly [number, number],
): string | undefined {
  if (version === undefined) {
    return 'kubectl not found';
  }
  const [major, minor] = version;
  const recentEnough = major > minimum[0] || (major === minimum[0] && minor >= minimum[1]);
  return recentEnough ? undefined : `kubectl ${major}.${minor} is older than ${minimum.join('.')}`;
}

/** apt-get's arguments for each run that installs these packages: the index update, then the install. */
export function aptGetRuns(packages: readonly string[]): string[][] {
  return [['update'], ['install', '-y', '--no-install-recommends', ...packages]];
}

/** What `setUpSystem` touches, injectable so its decisions can be tested without a real apt. */
export interface SetupHost {
  probe: SystemProbe;
  isRoot: boolean;
  /** Runs a command with its output shown; returns its exit status. */
  run(command: string, args: readonly string[]): number;
  log(line: string): void;
}

/**
 * Makes this machine ready for `npm start` or `npm test`. Returns undefined when it is ready,
 * else a message saying what is missing and the exact command that fixes it.
 */
export function setUpSystem(purpose: Purpose, host: SetupHost): string | undefined {
  const label = `npm ${purpose}`;
  let plan = planSetup(purpose, host.probe);
  if (plan.missing.length === 0) {
    host.log(`${label}: all ${plan.needed} system requirements are present, nothing to install`);
    return undefined;
  }
  const hasApt = host.probe.commandsFound(['apt-get']).has('apt-get');
  const installing = plan.installable.length > 0 && host.isRoot && hasApt;
  if (installing) {
    host.log(`${label}: installing the missing system packages with apt-get:`);
    host.log(describe(plan.installable));
    for (const args of aptGetRuns(packageNames(plan.installable))) {
      host.log(`+ apt-get ${args.join(' ')}`);
      const status = host.run('apt-get', args);
      if (status !== 0) {
        return `${label}: \`apt-get ${args.join(' ')}\` failed with exit status ${status}`;
      }
    }
    plan = planSetup(purpose, host.probe);
    if (plan.missing.length === 0) {
      host.log(`${label}: system packages installed`);
      return undefined;
    }
  }
  return [
    `${label} cannot run yet; missing on this machine:`,
    describe(plan.missing),
    ...howToInstall(packageNames(plan.installable), { label, installed: installing, hasApt }),
    ...plan.missing.flatMap(({ requirement }) =>
      requirement.installHint === undefined
        ? []
        : [`${requirement.name}: ${requirement.installHint}`],
    ),
  ].join('\n');
}

function packageNames(missing: readonly MissingRequirement[]): string[] {
  return missing.map(({ requirement }) => requirement.name);
}

function describe(missing: readonly MissingRequirement[]): string {
  return missing
    .map(
      ({ requirement, problems }) =>
        `  ${requirement.name} (${problems.join(', ')}): ${requirement.why}`,
    )
    .join('\n');
}

function howToInstall(
  packages: readonly string[],
  context: { label: string; installed: boolean; hasApt: boolean },
): string[] {
  if (packages.length === 0) {
    return [];
  }
  if (context.installed) {
    return [`apt-get installed ${packages.join(' ')}, yet the checks above still fail.`];
  }
  if (!context.hasApt) {
    return [
      `This machine has no apt-get: install the equivalents of these Debian 12 packages: ${packages.join(' ')}`,
    ];
  }
  return [
    `Install them as root, then run ${context.label} again:`,
    `  ${aptGetRuns(packages)
      .map((args) => `sudo apt-get ${args.join(' ')}`)
      .join(' && ')}`,
  ];
}

/** The standard system directories, searched too: a non-root PATH often lacks the sbin ones. */
const systemDirectories = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
];

function searchDirectories(): string[] {
  const path = (process.env.PATH ?? '').split(delimiter).filter((directory) => directory !== '');
  return [...new Set([...path, ...systemDirectories])];
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A command's executable: an absolute path as given, else the first match in the search. */
function locate(command: string): string | undefined {
  const candidates = isAbsolute(command)
    ? [command]
    : searchDirectories().map((directory) => join(directory, command));
  return candidates.find(isExecutableFile);
}

/** This machine, probed in-process where possible so the check stays fast. */
export const hostProbe: SystemProbe = {
  commandsFound(names) {
    return new Set(names.filter((name) => locate(name) !== undefined));
  },
  pythonModulesFound(names) {
    // find_spec locates a module without importing it: importing Jupyter and matplotlib takes >1 s.
    const script = [
      'import importlib.util, sys',
      'for name in sys.argv[1:]:',
      '    if importlib.util.find_spec(name) is not None:',
      '        print(name)',
    ].join('\n');
    const result = spawnSync('/usr/bin/python3', ['-c', script, ...names], { encoding: 'utf8' });
    return new Set(result.status === 0 ? result.stdout.split('\n').filter(Boolean) : []);
  },
  debianPackagesInstalled(names) {
    // dpkg-query lists the known packages and fails for unknown ones: read its output either way.
    const dpkgQuery = locate('dpkg-query');
    if (dpkgQuery === undefined || names.length === 0) {
      return new Set();
    }
    const format = '-f=${Package} ${db:Status-Status}\\n';
    const result = spawnSync(dpkgQuery, ['-W', format, ...names], { encoding: 'utf8' });
    return new Set(
      (result.stdout ?? '')
        .split('\n')
        .map((line) => line.split(' '))
        .flatMap(([name, status]) => (name && status === 'installed' ? [name] : [])),
    );
  },
  kubectlVersion,
};

/**
 * This machine: commands run from where the probe found them (dpkg needs the sbin directories on
 * PATH), apt-get non-interactively, with their output shown.
 */
export function localHost(): SetupHost {
  return {
    probe: hostProbe,
    isRoot: process.getuid?.() === 0,
    run: (command, args) =>
      spawnSync(locate(command) ?? command, args, {
        stdio: 'inherit',
        env: {
          ...process.env,
          PATH: searchDirectories().join(delimiter),
          DEBIAN_FRONTEND: 'noninteractive',
        },
      }).status ?? 1,
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

/** Sets this machine up for `purpose`; on failure prints why and how to fix it, and returns false. */
export function ensureSystemReady(purpose: Purpose): boolean {
  const problem = setUpSystem(purpose, localHost());
  if (problem !== undefined) {
    process.stderr.write(`${problem}\n`);
  }
  return problem === undefined;
}

if (require.main === module) {
  const purpose = process.argv[2] ?? 'test';
  if (purpose !== 'start' && purpose !== 'test') {
    process.stderr.write(`usage: npm run setup [-- start|test] (got ${purpose})\n`);
    process.exitCode = 2;
  } else {
    process.exitCode = ensureSystemReady(purpose) ? 0 : 1;
  }
}
