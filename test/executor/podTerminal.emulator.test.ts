import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  PodCommandLineCodeExecutor,
  PodTerminal,
  type PodStartProgress,
  type PodTerminalExit,
} from '../../src/core/index.ts';
import { eventually, withEmulator } from '../support/emulatorFixture.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

/** Collects a terminal's output as text and resolves its exit. */
function capture(terminal: PodTerminal) {
  let text = '';
  terminal.onData((chunk) => (text += chunk.toString('utf8')));
  const exited = new Promise<PodTerminalExit>((resolve) => terminal.onExit(resolve));
  return { text: () => text, exited };
}

describe('pod start progress, interactive terminals and logs on the emulator', () => {
  let emulator: Emulator;
  let executor: PodCommandLineCodeExecutor;
  const progress: PodStartProgress[] = [];

  before(async () => {
    emulator = await withEmulator();
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: emulator.kubeconfigPath,
      command: [
        '/bin/sh',
        '-c',
        'trap "exit 0" TERM; echo container says hello; while :; do sleep 0.2; done',
      ],
      startupTimeout: 30,
    });
    await executor.start({ onProgress: (update) => progress.push(update) });
  });

  after(async () => {
    await executor.stop();
    await emulator.verifyNoLeaks();
  });

  test('start reports the pod phase and its events as they happen', () => {
    const messages = progress.map((update) => update.message);
    assert.ok(
      progress.some((update) => update.phase.startsWith('Pending')),
      `a Pending phase was reported: ${JSON.stringify(progress)}`,
    );
    for (const reason of ['Scheduled', 'Pulled', 'Started']) {
      assert.ok(
        messages.some((message) => message.startsWith(`${reason}:`)),
        `the ${reason} event was reported: ${JSON.stringify(messages)}`,
      );
    }
  });

  test('a terminal runs an interactive shell with a tty of the requested size', async () => {
    const terminal = await executor.openTerminal({ columns: 91, rows: 27 });
    const session = capture(terminal);
    terminal.write('stty size; test -t 0 && echo "tty=$((6*7))"\n');
    await eventually(
      () => /27 91/.test(session.text()) && /tty=42/.test(session.text()),
      15_000,
      'the terminal size and tty answer',
    );
    terminal.resize(120, 40);
    terminal.write('stty size\n');
    await eventually(() => /40 120/.test(session.text()), 15_000, 'the new terminal size');
    terminal.write('exit 3\n');
    assert.deepEqual(await session.exited, { exitCode: 3 });
  });

  test('bytes typed into the terminal reach the process unchanged', async () => {
    const terminal = await executor.openTerminal({ command: ['/bin/sh'] });
    const session = capture(terminal);
    terminal.write("printf '%s\\n' 'quote\" $HOME ünïcödé ;|&' | od -c | head -3; exit\n");
    const exit = await session.exited;
    assert.deepEqual(exit, { exitCode: 0 });
    assert.match(session.text(), /ü/, session.text());
    assert.match(session.text(), /\$ {3}H {3}O {3}M {3}E/, 'the $HOME was not expanded');
  });

  test('a terminal for a command that does not exist ends with an error, not a hang', async () => {
    const terminal = await executor.openTerminal({ command: ['/no/such/shell'] });
    const exit = await capture(terminal).exited;
    assert.ok('error' in exit || exit.exitCode !== 0, JSON.stringify(exit));
  });

  test('the container log is read from the API', async () => {
    assert.match(await executor.readLogs(), /container says hello/);
    assert.equal((await executor.readLogs(1)).trim(), 'container says hello');
  });
});
