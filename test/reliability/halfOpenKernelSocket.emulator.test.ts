import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { PodJupyterCodeExecutor, PodJupyterServer } from '../../src/core/index.ts';
import { apiRequest, managedNames, withEmulator } from '../support/emulatorFixture.ts';
import { stallingProxyFor, type StallingProxy } from '../support/stallingProxy.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;
let emulator: Emulator;
let proxy: StallingProxy | undefined;
let server: PodJupyterServer | undefined;
let executor: PodJupyterCodeExecutor | undefined;

before(async () => {
  emulator = await withEmulator({ backoffBaseMs: 200 });
});

after(async () => {
  proxy?.resume();
  await executor?.stop();
  await server?.stop();
  await proxy?.close();
  for (const resource of ['pods', 'secrets', 'services']) {
    for (const name of await managedNames(emulator, resource, 'default')) {
      await apiRequest(emulator, 'DELETE', `/api/v1/namespaces/default/${resource}/${name}`);
    }
  }
  await emulator.stop();
});

test(
  'a kernel connection left half-open by a network stall during a cell is replaced, and the cell ends with all its output',
  { timeout: 180_000 },
  async () => {
    const through = await stallingProxyFor(emulator);
    const stalling = through.proxy;
    proxy = stalling;
    server = new PodJupyterServer({
      kubeconfig: through.kubeConfig,
      startupTimeout: 60,
      podName: 'half-open-gw',
    });
    await server.start();
    let connections = 0;
    executor = new PodJupyterCodeExecutor(server, {
      timeout: 30,
      livenessIntervalMs: 500,
      // The stall lasts until the channel gives up on the stalled connection and opens another.
      webSocketFactory: (url, options) => {
        connections++;
        stalling.resume();
        return new WebSocket(url, options);
      },
    });
    await executor.start();
    let connectionsAtStall = 0;
    const result = await executor.executeCodeBlocks(
      [
        {
          language: 'python',
          // Long enough for the server to let the stalled connection go (it waits 5 s for its
          // close) before the cell prints again: what it sent to that connection is lost.
          code: "import time\nprint('before', flush=True)\ntime.sleep(10)\nprint('after')",
        },
      ],
      {
        onOutput: (event) => {
          if (event.type === 'stream' && event.text.includes('before')) {
            connectionsAtStall = connections;
            stalling.stall();
          }
        },
      },
    );
    assert.equal(connections - connectionsAtStall, 1, 'the stalled connection was replaced once');
    assert.equal(result.exitCode, 0, result.output);
    assert.match(result.output, /^before\nafter\n?$/);
    const next = await executor.executeCodeBlocks([
      { language: 'python', code: "print('next cell')" },
    ]);
    assert.equal(next.exitCode, 0, next.output);
    assert.match(next.output, /^next cell\n?$/);
  },
);
