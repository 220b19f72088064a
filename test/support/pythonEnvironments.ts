import { pythonVenv, type PythonVenvSpec } from './pythonVenv.ts';

/**
 * Every pinned Python environment the tests and the bench use, each under `.cache/<name>`. Each
 * user makes its own on first use; `npm test` (and so `.ci/run`) makes them all up front, one at a
 * time, so test files running at once never install into one folder together, and a PyPI outage
 * fails there with a clear message rather than in the middle of a test.
 */
export const pythonEnvironments = {
  /** Python's own MCP client, an independent peer of the MCP server. */
  mcp: { name: 'python-mcp', packages: ['mcp==2.3.0'] },
  /**
   * The seed, autogen-kubernetes at its newest release: the bench's peer, and the runner of its own
   * test suite against the emulator (autogen-agentchat, pytest and pytest-asyncio are what that
   * suite imports). Its dependencies are unbounded, so they are pinned too; kubernetes stays below
   * 36, whose kubeconfig loader files a token under `BearerToken` instead of the `authorization`
   * key the seed reads (with 36 every request of the seed fails before it is sent).
   */
  seed: {
    name: 'python-seed',
    packages: [
      'autogen-kubernetes==0.6.2',
      'autogen-core==0.7.5',
      'kubernetes==35.0.0',
      'httpx==0.28.1',
      'websockets==17.4',
      'PyYAML==6.0.4',
      'asyncio-atexit==1.0.1',
      'autogen-agentchat==0.7.5',
      'pytest==9.2.0',
      'pytest-asyncio==1.5.0',
    ],
  },
  /**
   * The emulator's kernel gateway image: the real Jupyter Kernel Gateway, which needs newer
   * jupyter_server, jupyter_client and tornado than Debian's (pinned here with the rest of the
   * Jupyter stack it pulls in); its kernels are Debian's ipykernel with matplotlib.
   */
  gateway: {
    name: 'python-gateway',
    packages: [
      'jupyter_kernel_gateway==3.0.1',
      'jupyter_server==2.21.1',
      'jupyter_client==8.10.0',
      'jupyter_core==5.9.1',
      'tornado==6.6.1',
      'pyzmq==27.3.0',
      'traitlets==5.16.1',
    ],
    systemSitePackages: true,
  },
} as const satisfies Record<string, PythonVenvSpec>;

/** The Python of one environment, installed when missing. */
export function pythonOf(environment: keyof typeof pythonEnvironments): Promise<string> {
  return pythonVenv(pythonEnvironments[environment]);
}

/** Makes every environment that is missing, one after the other, saying what each took. */
export async function ensurePythonEnvironments(say: (line: string) => void): Promise<void> {
  for (const [key, spec] of Object.entries(pythonEnvironments)) {
    const started = performance.now();
    const python = await pythonVenv(spec);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    say(`${key}: ${spec.packages.join(' ')} in ${python} (${seconds} s)`);
  }
}

if (require.main === module) {
  ensurePythonEnvironments((line) => process.stdout.write(`${line}\n`)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
