/**
 * What `npm start` and `npm test` need from the system, in one place: each Debian package, how
 * its presence is checked, and why it is needed. test/support/systemSetup.ts checks and installs.
 */

export type Purpose = 'start' | 'test';

/** How one requirement is found on this machine. */
export type Check =
  /** A command: an absolute path that the code runs as is, or a name searched on PATH. */
  | { command: string }
  /** A module that /usr/bin/python3 finds. */
  | { pythonModule: string }
  /** An installed Debian package (headers and data files: nothing to run). */
  | { debianPackage: string }
  | { kubectlAtLeast: readonly [number, number] };

export interface Requirement {
  /** The Debian package that provides it (for kubectl: the tool itself). */
  name: string;
  checks: readonly Check[];
  why: string;
  neededBy: readonly Purpose[];
  /** Set when apt-get cannot provide it: how to get it instead. */
  installHint?: string;
}

const startAndTest: readonly Purpose[] = ['start', 'test'];
const testOnly: readonly Purpose[] = ['test'];
const minimumKubectl = [1, 30] as const;

/** Everything `npm test` needs; `npm start` needs the ones marked for it. */
export const requirements: readonly Requirement[] = [
  {
    name: 'util-linux',
    checks: [{ command: 'unshare' }, { command: 'nsenter' }, { command: 'setpriv' }],
    why: "the emulator's pods (Linux namespaces)",
    neededBy: startAndTest,
  },
  {
    name: 'mount',
    checks: [{ command: 'mount' }],
    why: "the emulator's pods (bind mounts)",
    neededBy: startAndTest,
  },
  {
    name: 'iproute2',
    checks: [{ command: 'ip' }],
    why: "the emulator's pods (each pod's loopback and eth0)",
    neededBy: startAndTest,
  },
  {
    name: 'iptables',
    checks: [{ command: 'iptables' }],
    why: "the emulator's pods (their traffic to the network, masqueraded as the host's)",
    neededBy: startAndTest,
  },
  {
    name: 'hostname',
    checks: [{ command: 'hostname' }],
    why: "the emulator's pods (each pod's hostname)",
    neededBy: startAndTest,
  },
  {
    name: 'coreutils',
    checks: [{ command: 'chroot' }, { command: 'sleep' }],
    why: "the emulator's pods (their root directory and pause process)",
    neededBy: startAndTest,
  },
  {
    name: 'openssl',
    checks: [{ command: 'openssl' }],
    why: "the emulator's TLS certificates",
    neededBy: startAndTest,
  },
  {
    name: 'python3',
    checks: [{ command: '/usr/bin/python3' }],
    why: "the pods' python images, and node-gyp for code-server's native modules",
    neededBy: startAndTest,
  },
  {
    name: 'python3-jupyter-server',
    checks: [{ pythonModule: 'jupyter_server' }],
    why: 'the plain Jupyter Server the kernel tests also run against (the kernel gateway pod has its own, from PyPI)',
    neededBy: startAndTest,
  },
  {
    name: 'python3-ipykernel',
    checks: [{ pythonModule: 'ipykernel' }],
    why: "the kernel pod's Python kernel",
    neededBy: startAndTest,
  },
  {
    name: 'python3-matplotlib',
    checks: [{ pythonModule: 'matplotlib' }],
    why: "plots in notebook cells (the sample's plot.ipynb, the Jupyter tests)",
    neededBy: startAndTest,
  },
  {
    name: 'ripgrep',
    checks: [{ command: '/usr/bin/rg' }],
    why: "code-server installs offline with Debian's rg instead of downloading its own",
    neededBy: startAndTest,
  },
  {
    name: 'make',
    checks: [{ command: 'make' }],
    why: "building code-server's native modules",
    neededBy: startAndTest,
  },
  {
    name: 'g++',
    checks: [{ command: 'g++' }],
    why: "building code-server's native modules",
    neededBy: startAndTest,
  },
  {
    name: 'libkrb5-dev',
    checks: [{ debianPackage: 'libkrb5-dev' }],
    why: "headers for code-server's kerberos module",
    neededBy: startAndTest,
  },
  {
    name: 'libxkbfile-dev',
    checks: [{ debianPackage: 'libxkbfile-dev' }],
    why: 'headers code-server lists among its build prerequisites',
    neededBy: startAndTest,
  },
  {
    name: 'libsecret-1-dev',
    checks: [{ debianPackage: 'libsecret-1-dev' }],
    why: 'headers for keytar (built from source when no prebuilt binary can be downloaded)',
    neededBy: startAndTest,
  },
  {
    name: 'ca-certificates',
    checks: [{ debianPackage: 'ca-certificates' }],
    why: "the system CA store (Debian's python3-certifi points at it)",
    neededBy: testOnly,
  },
  {
    name: 'procps',
    checks: [{ command: 'ps' }, { command: 'pgrep' }],
    why: 'tests that look for leftover processes inside pods',
    neededBy: testOnly,
  },
  {
    name: 'python3-kubernetes',
    checks: [{ pythonModule: 'kubernetes' }],
    why: 'conformance tests with the official Python client',
    neededBy: testOnly,
  },
  {
    name: 'python3-venv',
    checks: [{ pythonModule: 'ensurepip' }],
    why: "the pinned environments from PyPI: the emulator's kernel gateway image, and Python's own MCP client for the MCP server's test",
    neededBy: startAndTest,
  },
  {
    name: 'chromium',
    checks: [{ command: '/usr/bin/chromium' }],
    why: 'the browser tests drive code-server with it',
    neededBy: testOnly,
  },
  {
    name: 'busybox-static',
    checks: [{ command: '/bin/busybox' }],
    why: "the block scripts are tested with busybox's tools, as an Alpine image has them",
    neededBy: testOnly,
  },
  {
    name: 'etcd-server',
    checks: [{ command: 'etcd' }],
    why: "the cluster tier's real node (its apiserver's store)",
    neededBy: testOnly,
  },
  {
    name: 'containerd',
    checks: [{ command: 'containerd' }, { command: 'containerd-shim-runc-v2' }],
    why: "the cluster tier's real node (its container runtime)",
    neededBy: testOnly,
  },
  {
    name: 'runc',
    checks: [{ command: 'runc' }],
    why: "the cluster tier's real node (containerd's OCI runtime)",
    neededBy: testOnly,
  },
  {
    name: 'containernetworking-plugins',
    checks: [{ command: '/usr/lib/cni/bridge' }, { command: '/usr/lib/cni/host-local' }],
    why: "the cluster tier's real node (its pods' bridge network)",
    neededBy: testOnly,
  },
  {
    name: 'go',
    checks: [{ command: 'go' }],
    why: "the cluster tier's Kubernetes binaries, built from source (cached after the first build)",
    neededBy: testOnly,
    installHint:
      "Debian 12's golang is too old for Kubernetes 1.33; install Go 1.24 or newer from https://go.dev/dl/ and put its bin directory on PATH",
  },
  {
    name: 'debootstrap',
    checks: [{ command: 'debootstrap' }],
    why: "the cluster tier's images (built from Debian packages: none can be pulled)",
    neededBy: testOnly,
  },
  {
    name: 'kubectl',
    checks: [{ kubectlAtLeast: minimumKubectl }],
    why: 'conformance tests with kubectl',
    neededBy: testOnly,
    installHint: `Debian 12's own package (kubernetes-client) is 1.20, too old; install kubectl ${minimumKubectl.join('.')} or newer from the Kubernetes project: https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/`,
  },
];
