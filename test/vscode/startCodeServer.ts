import { ensureSystemReady } from '../support/systemSetup.ts';
import { startDemoSession } from './demoSession.ts';

/**
 * `npm start`: VS Code (code-server, on 127.0.0.1) with the packaged extension and a sample
 * workspace on the emulator. Ctrl-C stops everything; the emulator's pods go with it.
 */
async function main(): Promise<void> {
  if (!ensureSystemReady('start')) {
    process.exitCode = 1;
    return;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const session = await startDemoSession(say);
  say(`\nVS Code with Pod Runner: ${session.url}`);
  say(
    'Open app/main.py and Run File in Pod, app/bad_row.py for a traceback that links home, or plot.ipynb and Run All. Ctrl-C stops everything.',
  );
  let stopping = false;
  const stop = () => {
    if (stopping) {
      return;
    }
    stopping = true;
    say('\nstopping code-server and the emulator (every pod goes with it)…');
    void session.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `npm start failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
