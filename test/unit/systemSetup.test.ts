import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requirements } from '../support/systemRequirements.ts';
import { hostProbe, setUpSystem, type SetupHost } from '../support/systemSetup.ts';

/** A machine made of sets; apt-get on it provides what each package's checks look for. */
class FakeMachine {
  readonly commands = new Set<string>(['apt-get']);
  readonly modules = new Set<string>();
  readonly packages = new Set<string>();
  kubectl: [number, number] | undefined = [1, 32];
  /** apt-get's arguments, one entry per run. */
  readonly aptRuns: string[][] = [];
  readonly logged: string[] = [];
  aptStatus: Partial<Record<string, number>> = {};
  /** Packages apt-get "installs" without them providing anything (a broken mirror). */
  readonly hollowPackages = new Set<string>();

  constructor(missing: { commands?: string[]; modules?: string[]; packages?: string[] } = {}) {
    for (const requirement of requirements) {
      this.provide(requirement.name);
    }
    missing.commands?.forEach((name) => this.commands.delete(name));
    missing.modules?.forEach((name) => this.modules.delete(name));
    missing.packages?.forEach((name) => this.packages.delete(name));
  }

  private provide(packageName: string): void {
    for (const check of requirements.find(({ name }) => name === packageName)?.checks ?? []) {
      if ('command' in check) {
        this.commands.add(check.command);
      } else if ('pythonModule' in check) {
        this.modules.add(check.pythonModule);
      } else if ('debianPackage' in check) {
        this.packages.add(check.debianPackage);
      }
    }
  }

  host(isRoot: boolean): SetupHost {
    const has = (present: Set<string>, names: readonly string[]) =>
      new Set(names.filter((name) => present.has(name)));
    return {
      isRoot,
      probe: {
        commandsFound: (names) => has(this.commands, names),
        pythonModulesFound: (names) => has(this.modules, names),
        debianPackagesInstalled: (names) => has(this.packages, names),
        kubectlVersion: () => this.kubectl,
      },
      run: (command, args) => {
        assert.equal(command, 'apt-get');
        this.aptRuns.push([...args]);
        const status = this.aptStatus[args[0]!] ?? 0;
        if (status === 0 && args[0] === 'install') {
          args
            .filter((arg) => !arg.startsWith('-') && arg !== 'install')
            .filter((name) => !this.hollowPackages.has(name))
            .forEach((name) => this.provide(name));
        }
        return status;
      },
      log: (line) => this.logged.push(line),
    };
  }
}

const someMissing = {
  commands: ['setpriv', '/usr/bin/rg'],
  modules: ['jupyter_server'],
  packages: ['libsecret-1-dev'],
};
const someMissingPackages = ['util-linux', 'python3-jupyter-server', 'ripgrep', 'libsecret-1-dev'];
const someMissingListed = [
  "  util-linux (setpriv not found): the emulator's pods (Linux namespaces)",
  '  python3-jupyter-server (/usr/bin/python3 cannot find module jupyter_server): the plain Jupyter Server the kernel tests also run against (the kernel gateway pod has its own, from PyPI)',
  "  ripgrep (/usr/bin/rg not found): code-server installs offline with Debian's rg instead of downloading its own",
  '  libsecret-1-dev (not installed): headers for keytar (built from source when no prebuilt binary can be downloaded)',
].join('\n');

test('as root with apt: one apt-get update, then one install of exactly the missing packages', () => {
  const machine = new FakeMachine(someMissing);
  assert.equal(setUpSystem('test', machine.host(true)), undefined);
  assert.deepEqual(machine.aptRuns, [
    ['update'],
    ['install', '-y', '--no-install-recommends', ...someMissingPackages],
  ]);
  assert.deepEqual(machine.logged, [
    'npm test: installing the missing system packages with apt-get:',
    someMissingListed,
    '+ apt-get update',
    `+ apt-get install -y --no-install-recommends ${someMissingPackages.join(' ')}`,
    'npm test: system packages installed',
  ]);
});

test('not root: nothing runs; the message lists what is missing and the exact command', () => {
  const machine = new FakeMachine(someMissing);
  const message = setUpSystem('start', machine.host(false));
  assert.deepEqual(machine.aptRuns, []);
  assert.equal(
    message,
    [
      'npm start cannot run yet; missing on this machine:',
      someMissingListed,
      'Install them as root, then run npm start again:',
      `  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${someMissingPackages.join(' ')}`,
    ].join('\n'),
  );
});

test('npm start needs only its subset; npm test needs the rest too', () => {
  const testOnly = {
    commands: ['/usr/bin/chromium', 'pgrep'],
    modules: ['kubernetes'],
    packages: ['ca-certificates'],
  };
  const forStart = new FakeMachine(testOnly);
  assert.equal(setUpSystem('start', forStart.host(true)), undefined);
  assert.deepEqual(forStart.aptRuns, [], 'nothing to install for npm start');
  assert.deepEqual(forStart.logged, [
    'npm start: all 18 system requirements are present, nothing to install',
  ]);

  const forTest = new FakeMachine(testOnly);
  assert.equal(setUpSystem('test', forTest.host(true)), undefined);
  assert.deepEqual(forTest.aptRuns, [
    ['update'],
    [
      'install',
      '-y',
      '--no-install-recommends',
      'ca-certificates',
      'procps',
      'python3-kubernetes',
      'chromium',
    ],
  ]);
});

test('kubectl is not installed with apt-get: the message says where to get it', () => {
  const machine = new FakeMachine({ commands: ['/usr/bin/rg'] });
  machine.kubectl = undefined;
  const message = setUpSystem('test', machine.host(true));
  assert.deepEqual(machine.aptRuns, [
    ['update'],
    ['install', '-y', '--no-install-recommends', 'ripgrep'],
  ]);
  assert.equal(
    message,
    [
      'npm test cannot run yet; missing on this machine:',
      '  kubectl (kubectl not found): conformance tests with kubectl',
      "kubectl: Debian 12's own package (kubernetes-client) is 1.20, too old; install kubectl 1.30 or newer from the Kubernetes project: https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/",
    ].join('\n'),
  );
});

test('a kubectl older than 1.30 counts as missing, and npm start does not need it', () => {
  const machine = new FakeMachine();
  machine.kubectl = [1, 20];
  const message = setUpSystem('test', machine.host(false));
  assert.match(message ?? '', /^ {2}kubectl \(kubectl 1\.20 is older than 1\.30\): /m);
  assert.doesNotMatch(message ?? '', /apt-get/, 'apt-get cannot help, so it is not suggested');
  assert.equal(setUpSystem('start', machine.host(false)), undefined);
  assert.deepEqual(machine.aptRuns, []);
});

test('everything present: nothing runs, not even apt-get update, and it says so', () => {
  const machine = new FakeMachine();
  assert.equal(setUpSystem('test', machine.host(true)), undefined);
  assert.deepEqual(machine.aptRuns, []);
  assert.deepEqual(machine.logged, [
    'npm test: all 30 system requirements are present, nothing to install',
  ]);
});

test('no apt-get: the message names the Debian packages to find equivalents of', () => {
  const machine = new FakeMachine({ commands: ['apt-get', 'make'] });
  const message = setUpSystem('start', machine.host(true));
  assert.deepEqual(machine.aptRuns, []);
  assert.equal(
    message,
    [
      'npm start cannot run yet; missing on this machine:',
      "  make (make not found): building code-server's native modules",
      'This machine has no apt-get: install the equivalents of these Debian 12 packages: make',
    ].join('\n'),
  );
});

test('a failing apt-get update stops the set-up before the install', () => {
  const machine = new FakeMachine({ commands: ['make'] });
  machine.aptStatus = { update: 100 };
  assert.equal(
    setUpSystem('test', machine.host(true)),
    'npm test: `apt-get update` failed with exit status 100',
  );
  assert.deepEqual(machine.aptRuns, [['update']]);
});

test('a package apt-get installed whose check still fails is reported, not trusted', () => {
  const machine = new FakeMachine({ commands: ['/usr/bin/rg'] });
  machine.hollowPackages.add('ripgrep');
  assert.equal(
    setUpSystem('test', machine.host(true)),
    [
      'npm test cannot run yet; missing on this machine:',
      "  ripgrep (/usr/bin/rg not found): code-server installs offline with Debian's rg instead of downloading its own",
      'apt-get installed ripgrep, yet the checks above still fail.',
    ].join('\n'),
  );
});

test("this machine's probe finds real commands, python modules and Debian packages only", () => {
  const path = process.env.PATH;
  // chroot and dpkg-query live in the system directories, which a PATH may lack (non-root PATHs
  // leave out /usr/sbin): the probe searches them anyway.
  process.env.PATH = '/nonexistent';
  try {
    assert.deepEqual(
      hostProbe.commandsFound(['sh', 'chroot', '/bin/sh', '/usr/bin', 'pod-runner-no-such-tool']),
      new Set(['sh', 'chroot', '/bin/sh']),
    );
    assert.deepEqual(
      hostProbe.debianPackagesInstalled(['coreutils', 'pod-runner-no-such-package']),
      new Set(['coreutils']),
    );
  } finally {
    process.env.PATH = path;
  }
  assert.deepEqual(
    hostProbe.pythonModulesFound(['json', 'pod_runner_no_such_module']),
    new Set(['json']),
  );
});
