import { startCodeServer } from './codeServer.ts';
import { runTestsInHost } from './hostRunner.ts';

/**
 * What vscodeLauncher.sh runs in place of VS Code: it reads the arguments @vscode/test-electron
 * gives VS Code (`--extensionDevelopmentPath=`, `--extensionTestsPath=`, the folder to open),
 * runs those extension tests in code-server's real extension host, and exits with their exit
 * code. VS Code's other flags (`--no-sandbox`, `--disable-updates`...) mean nothing here.
 */

/** The longest a whole in-host run may take before it counts as failed. */
const runTimeoutMs = 600_000;

function parseArguments(argv: string[]): {
  extensionPath: string;
  testsPath: string;
  folder: string;
} {
  const valueOf = (flag: string) =>
    argv.find((arg) => arg.startsWith(`--${flag}=`))?.slice(flag.length + 3);
  const extensionPath = valueOf('extensionDevelopmentPath');
  const testsPath = valueOf('extensionTestsPath');
  const folder = argv.find((arg) => !arg.startsWith('-'));
  if (!extensionPath || !testsPath || !folder) {
    throw new Error(
      'expected --extensionDevelopmentPath=DIR, --extensionTestsPath=FILE and a folder to open',
    );
  }
  return { extensionPath, testsPath, folder };
}

async function main(): Promise<number> {
  const { extensionPath, testsPath, folder } = parseArguments(process.argv.slice(2));
  // runTests() hands its extensionTestsEnv to "VS Code": the settings only a machine may set.
  const machineSettings = process.env.POD_RUNNER_MACHINE_SETTINGS;
  const server = await startCodeServer({
    workspace: folder,
    ...(machineSettings
      ? { machineSettings: JSON.parse(machineSettings) as Record<string, unknown> }
      : {}),
  });
  // runTests() stops "VS Code" with SIGINT on Ctrl-C: code-server must not outlive it.
  const stop = () => void server.stop().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const code = await runTestsInHost(server, {
      workspace: folder,
      extensionPath,
      testsPath,
      timeoutMs: runTimeoutMs,
    });
    if (code === -1) {
      process.stderr.write(`the extension tests did not finish within ${runTimeoutMs} ms\n`);
      return 1;
    }
    return code;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
