import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KernelConnectionError, PodJupyterCodeExecutor } from '../../src/core/index.ts';
import { KernelChannel } from '../../src/core/jupyterKernelClient.ts';
import type { JupyterMessage } from '../../src/core/jupyterMessages.ts';
import { requireTool } from '../support/emulatorFixture.ts';
import { FakeJupyterServer } from '../support/fakeJupyterServer.ts';
import {
  jupyterServerAvailable,
  startJupyterServer,
  type RunningJupyterServer,
} from '../support/jupyterServer.ts';
import { JupyterRestClient } from '../../src/core/jupyterRestClient.ts';

/**
 * Faults placed at one message of the kernel protocol: a reply that says the code did not run,
 * and a connection that drops right after a request, with the request delivered or lost.
 */
describe('kernel protocol faults (scripted Jupyter server)', () => {
  let fake: FakeJupyterServer;
  let executor: PodJupyterCodeExecutor;
  const py = (code: string) => executor.executeCodeBlocks([{ language: 'python', code }]);

  before(async () => {
    fake = await FakeJupyterServer.start();
    executor = new PodJupyterCodeExecutor(fake.info, { timeout: 20 });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    await fake.stop();
  });

  test('a kernel whose first messages the server did not follow (its record still "starting") is nudged until the record shows it', async () => {
    const unfollowed = await FakeJupyterServer.start();
    const starting = new PodJupyterCodeExecutor(unfollowed.info, { timeout: 20 });
    try {
      // Jupyter Server's activity watcher subscribes to the kernel's output only after the start:
      // everything up to the working directory's set-up goes by unseen.
      unfollowed.recordedState = 'starting';
      unfollowed.followsActivity = false;
      const setUp = unfollowed.onExecute;
      unfollowed.onExecute = (request, server) => {
        server.followsActivity = true;
        server.onExecute = setUp;
        setUp(request, server);
        server.recordedState = 'starting';
      };
      await starting.start();
      assert.equal(unfollowed.recordedState, 'idle', 'the record follows the kernel now');
      assert.equal(unfollowed.executed.at(-1), '', 'by a silent empty request');
    } finally {
      await starting.stop();
      await unfollowed.stop();
    }
  });

  test('an execute_reply "aborted" is reported as not run, never as success', async () => {
    fake.onExecute = (request, server) => server.run(request, { status: 'aborted' });
    const result = await py('total = 1');
    assert.equal(result.exitCode, 1);
    assert.match(result.output, /aborted this block without running it/);
  });

  test('an error known only from the execute_reply (its iopub message lost) is still an error', async () => {
    fake.onExecute = (request, server) =>
      server.run(request, { status: 'error', iopubError: false });
    const result = await py('raise ValueError("boom")');
    assert.equal(result.exitCode, 1);
    assert.match(result.output, /^ERROR: ValueError: boom/);
  });

  test('a request that reached the kernel before the connection dropped is not sent again', async () => {
    const before = fake.executed.length;
    let delivered: JupyterMessage | undefined;
    fake.onExecute = (request, server) => {
      if (!delivered) {
        // The kernel has the request; the connection drops before anything comes back.
        delivered = request;
        server.dropConnection();
        return;
      }
      server.run(delivered);
      server.run(request);
    };
    // The reconnected client's barrier: the kernel handles shell requests in order, so the
    // delivered request runs (and shows its messages) before the barrier is answered.
    fake.onKernelInfo = (request, server) => {
      if (delivered && fake.executed.length === before) {
        server.run(delivered, { stdout: 'ran\n' });
      }
      server.answerKernelInfo(request);
    };
    const result = await py('print("ran")');
    assert.equal(result.exitCode, 0, result.output);
    assert.equal(result.output, 'ran\n');
    assert.deepEqual(fake.executed.slice(before), ['print("ran")'], 'ran exactly once');
  });

  test('a block that ran while the connection was down fails saying so, and does not run again', async () => {
    const before = fake.executed.length;
    let dropped = false;
    fake.onExecute = (request, server) => {
      if (!dropped) {
        dropped = true;
        server.run(request, { unseen: true });
        server.dropConnection();
        return;
      }
      server.run(request);
    };
    fake.onKernelInfo = (request, server) => server.answerKernelInfo(request);
    await assert.rejects(
      py('counter = 1'),
      (error: Error) =>
        error instanceof KernelConnectionError && /it ran, but its output/.test(error.message),
    );
    assert.deepEqual(fake.executed.slice(before), ['counter = 1'], 'ran exactly once');
    assert.deepEqual(fake.duplicates.slice(-1), ['counter = 1'], 'the copy sent again was refused');
  });

  test('the next block, sent while the reconnection is being checked, is not sent twice', async () => {
    const before = fake.executed.length;
    const duplicatesBefore = fake.duplicates.length;
    let running: JupyterMessage | undefined;
    let barrier: JupyterMessage | undefined;
    fake.onExecute = (request, server) => {
      if (!running) {
        // The first block starts, then the connection drops under it.
        running = request;
        server.run(request, { unseen: true });
        server.dropConnection();
        return;
      }
      if (barrier) {
        // The kernel answers the barrier before the next block: it came first.
        server.answerKernelInfo(barrier);
        barrier = undefined;
      }
      server.run(request, { stdout: 'second\n' });
    };
    fake.onKernelInfo = (request, server) => {
      barrier = request;
      // The first block's result reaches the new connection (the server's replay) while the
      // barrier waits in the kernel's queue; the client goes on with the next block.
      server.replay(running!, { stdout: 'first\n' });
    };
    const result = await executor.executeCodeBlocks([
      { language: 'python', code: 'print("first")' },
      { language: 'python', code: 'print("second")' },
    ]);
    assert.equal(result.output, 'first\n\nsecond\n');
    // One more request on the same connection: the server has read everything sent before it.
    await py('pass');
    assert.deepEqual(fake.executed.slice(before), ['print("first")', 'print("second")', 'pass']);
    assert.equal(fake.duplicates.length, duplicatesBefore, 'nothing was sent twice');
  });

  test('a request lost with the dropped connection is sent again and runs once', async () => {
    const before = fake.executed.length;
    let dropped = false;
    fake.onExecute = (request, server) => {
      if (!dropped) {
        dropped = true;
        server.lose(request);
        server.dropConnection();
        return;
      }
      server.run(request, { stdout: 'again\n' });
    };
    fake.onKernelInfo = (request, server) => server.answerKernelInfo(request);
    const result = await py('print("again")');
    assert.equal(result.output, 'again\n');
    assert.deepEqual(fake.executed.slice(before), ['print("again")'], 'ran exactly once');
  });

  test('after the server restarts the kernel, a cell waits for iopub too, not just a shell reply', async () => {
    // The restarted kernel answers kernel_info on shell before its iopub reaches the client; what
    // runs then loses its status messages. Only the second kernel_info is answered on both.
    let bridged = false;
    let infoRequests = 0;
    fake.onExecute = (request, server) => {
      if (String(request.content.code) === 'die') {
        server.publishStatus(request, 'restarting');
      } else if (bridged) {
        server.run(request, { stdout: 'after restart\n' });
      } else {
        server.replyOnShellOnly(request, 'execute_reply', { status: 'ok', execution_count: 1 });
      }
    };
    fake.onKernelInfo = (request, server) => {
      infoRequests += 1;
      if (infoRequests === 1) {
        server.replyOnShellOnly(request, 'kernel_info_reply', { status: 'ok' });
        return;
      }
      bridged = true;
      server.answerKernelInfo(request);
    };
    const died = await py('die');
    assert.match(died.output, /kernel died \(status: restarting\)/);
    const result = await py('print("after restart")');
    assert.equal(result.output, 'after restart\n');
    assert.ok(infoRequests >= 2, `kernel_info asked ${infoRequests} time(s)`);
    fake.onKernelInfo = (request, server) => server.answerKernelInfo(request);
  });
});

const available = jupyterServerAvailable();

describe('a real kernel: a failed cell does not abort the next request', () => {
  let server: RunningJupyterServer | undefined;

  before(async () => {
    if (available) {
      server = await startJupyterServer();
    }
  });

  after(async () => {
    await server?.stop();
  });

  test('a request queued behind a failing cell runs (stop_on_error is the caller’s choice)', async (t) => {
    if (!requireTool(t, available, "Debian's python3-jupyter-server and python3-ipykernel")) {
      return;
    }
    const rest = new JupyterRestClient(server!.info);
    const kernelId = await rest.startKernel('python3');
    const channel = new KernelChannel(server!.info, kernelId);
    try {
      // Both requests are in the kernel's queue before the first one fails: with stop_on_error
      // the kernel would answer the second "aborted" without running it, every time.
      const failing = channel.execute('import time\ntime.sleep(0.3)\nundefined_name');
      const next = channel.execute('after_error = 1');
      assert.equal((await failing).status, 'error');
      assert.equal((await next).status, 'ok');
      const output: string[] = [];
      await channel.execute('print(after_error)', {
        onEvent: (event) => event.type === 'stream' && output.push(event.text),
      });
      assert.equal(output.join(''), '1\n');
    } finally {
      channel.close();
      await rest.deleteKernel(kernelId);
    }
  });
});
