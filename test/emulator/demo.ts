import {
  PodCommandLineCodeExecutor,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type Logger,
} from '../../src/core/index.ts';
import { startEmulator } from './index.ts';

/**
 * `npm run demo` (and `npm start`): starts the emulator, runs a Python and a bash block through
 * PodCommandLineCodeExecutor with their output streamed as it arrives, prints the results and
 * cleans up. No cluster or configuration needed.
 */
const logger: Logger = {
  trace: () => undefined,
  debug: () => undefined,
  info: (message) => process.stdout.write(`[pod-runner] ${message}\n`),
  warn: (message) => process.stdout.write(`[pod-runner] warning: ${message}\n`),
  error: (message) => process.stderr.write(`[pod-runner] error: ${String(message)}\n`),
};

async function main(): Promise<void> {
  const emulator = await startEmulator();
  process.stdout.write(`Kubernetes API emulator serving at ${emulator.url}\n`);
  try {
    await using executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      timeout: 30,
      logger,
    });
    await executor.start();
    const blocks = [
      {
        language: 'python',
        code: "import platform, time\nfor i in range(3):\n    print(f'tick {i} from Python {platform.python_version()}')\n    time.sleep(0.3)",
      },
      {
        language: 'bash',
        code: 'echo "hello from $(hostname) in $(pwd)"; ls -1 /workspace | wc -l | xargs echo files in workspace:',
      },
    ];
    for (const block of blocks) {
      process.stdout.write(`\n--- ${block.language} block, output as it arrives:\n`);
      const result = await executor.executeCodeBlocks([block], {
        onOutput: (chunk) =>
          (chunk.stream === 'stdout' ? process.stdout : process.stderr).write(chunk.text),
      });
      process.stdout.write(
        `--- exit code ${result.exitCode}, code file ${result.codeFile ?? '(none)'}\n`,
      );
    }
    await runNotebookSequence(emulator.kubeconfigPath);
    process.stdout.write('\n');
  } finally {
    await emulator.stop();
  }
}

/** A stateful notebook-style sequence on a kernel in a gateway pod, reached by port-forward. */
async function runNotebookSequence(kubeconfig: string): Promise<void> {
  process.stdout.write('\n=== Jupyter kernel gateway pod\n');
  await using server = new PodJupyterServer({ kubeconfig, logger });
  await server.start();
  await using kernel = new PodJupyterCodeExecutor(server, {
    timeout: 60,
    logger,
    outputDir: '.pod-runner/outputs',
  });
  await kernel.start();
  const cells = [
    'import math\ndef area(r):\n    return math.pi * r ** 2',
    'radii = [1, 2, 3]\n[round(area(r), 2) for r in radii]',
    'import matplotlib.pyplot as plt\nplt.plot(radii, [area(r) for r in radii], marker="o")\nplt.title("area by radius")\nplt.show()',
  ];
  for (const [index, code] of cells.entries()) {
    const result = await kernel.executeCodeBlocks([{ language: 'python', code }]);
    process.stdout.write(
      `--- cell ${index + 1} (exit ${result.exitCode}):\n${result.output || '(no output)\n'}`,
    );
    for (const file of result.outputFiles) {
      process.stdout.write(`    saved ${file}\n`);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
