import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { eventually, withEmulator } from '../support/emulatorFixture.ts';
import { pods, repoRoot, runCode, serverCommand, textOf, waitUntilPodGone } from './mcpHarness.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

interface HttpServerProcess {
  child: ChildProcess;
  port: number;
  stderr(): string;
  stop(): Promise<void>;
}

const running = new Set<HttpServerProcess>();

async function startServer(args: string[]): Promise<HttpServerProcess> {
  const child = spawn(
    serverCommand.command,
    [...serverCommand.args, ...args, '--transport', 'http', '--port', '0'],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: HttpServerProcess = {
    child,
    port: 0,
    stderr: () => stderr,
    async stop() {
      running.delete(server);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
      await exited;
    },
  };
  running.add(server);
  server.port = Number(
    await eventually(
      () => /serving MCP at http:\/\/[^:]+:(\d+)\/mcp/.exec(stderr)?.[1],
      30_000,
      'the HTTP server to listen',
    ),
  );
  return server;
}

/** A raw request, so tests can send the Host, Origin and body sizes a real client would not. */
function rawPost(
  port: number,
  headers: Record<string, string>,
  body: string,
  host = '127.0.0.1',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path: '/mcp',
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
});
const accept = { Accept: 'application/json, text/event-stream' };

describe('pod-runner-mcp over HTTP: Streamable HTTP, SSE, token, Host/Origin, body cap', () => {
  let emulator: Emulator;
  let server: HttpServerProcess;

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
    server = await startServer(['commandline', '--kubeconfig', emulator.kubeconfigPath]);
  });

  after(async () => {
    await Promise.all([...running].map((each) => each.stop()));
    assert.deepEqual(await pods(emulator), [], 'no pod of the MCP server is left');
    await emulator.verifyNoLeaks();
  });

  test('Streamable HTTP: a session runs code in its own pod, deleted when the session is deleted', async () => {
    const transport = new StreamableHTTPClientTransport(
      new URL(`http://127.0.0.1:${server.port}/mcp`),
    );
    const client = new Client({ name: 'http-test', version: '1' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name).sort(), ['bash', 'python']);
    assert.match(textOf(await runCode({ client }, 'python', 'print(6 * 7)')), /^42\n/);
    const [pod] = await pods(emulator);
    assert.ok(pod);
    await transport.terminateSession();
    await waitUntilPodGone(emulator, pod);
    await client.close();
  });

  test('SSE: an older client runs code; closing its stream deletes its pod', async () => {
    const client = new Client({ name: 'sse-test', version: '1' });
    await client.connect(new SSEClientTransport(new URL(`http://localhost:${server.port}/sse`)));
    assert.match(textOf(await runCode({ client }, 'bash', 'echo $((6 * 7))')), /^42\n/);
    const [pod] = await pods(emulator);
    assert.ok(pod);
    await client.close();
    await waitUntilPodGone(emulator, pod);
  });

  test('a wrong Host or a foreign Origin is refused (DNS rebinding): 403', async () => {
    assert.equal(
      await rawPost(server.port, { ...accept, Host: `evil.example:${server.port}` }, initialize),
      403,
    );
    assert.equal(
      await rawPost(server.port, { ...accept, Origin: 'http://evil.example' }, initialize),
      403,
    );
    assert.equal(
      await rawPost(
        server.port,
        { ...accept, Origin: `http://localhost:${server.port}`, Host: `localhost:${server.port}` },
        initialize,
      ),
      200,
    );
  });

  test('a body over 1 MB is refused with 413, and the server goes on', async () => {
    const big = JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(await rawPost(server.port, accept, big), 413);
    assert.equal(await rawPost(server.port, accept, initialize), 200);
  });

  test("SIGTERM deletes every session's pod before the server exits", async () => {
    const doomed = await startServer(['commandline', '--kubeconfig', emulator.kubeconfigPath]);
    const streamable = new Client({ name: 'streamable', version: '1' });
    await streamable.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${doomed.port}/mcp`)),
    );
    const sse = new Client({ name: 'sse', version: '1' });
    await sse.connect(new SSEClientTransport(new URL(`http://127.0.0.1:${doomed.port}/sse`)));
    await runCode({ client: streamable }, 'python', 'print(1)');
    await runCode({ client: sse }, 'python', 'print(2)');
    assert.equal((await pods(emulator)).length, 2);
    await doomed.stop();
    assert.deepEqual(await pods(emulator), [], 'both pods were deleted before the exit');
    assert.match(doomed.stderr(), /terminated: deleting the sessions' pods/);
    await streamable.close();
    await sse.close();
  });

  test('bound to 0.0.0.0 it requires --token, and every request must carry it (401)', async () => {
    const refused = spawn(
      serverCommand.command,
      [...serverCommand.args, 'commandline', '--transport', 'http', '--host', '0.0.0.0'],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, POD_RUNNER_MCP_TOKEN: '' },
      },
    );
    let refusal = '';
    refused.stderr.on('data', (chunk: Buffer) => (refusal += chunk.toString()));
    const code = await new Promise((resolve) => refused.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(refusal, /--host 0\.0\.0\.0 is not a loopback address: give --token/);

    const token = 'test-token-for-the-mcp-server-0123';
    const guarded = await startServer([
      'commandline',
      '--kubeconfig',
      emulator.kubeconfigPath,
      '--host',
      '0.0.0.0',
      '--token',
      token,
    ]);
    assert.equal(await rawPost(guarded.port, accept, initialize), 401);
    assert.equal(
      await rawPost(guarded.port, { ...accept, Authorization: 'Bearer wrong' }, initialize),
      401,
    );
    assert.equal(
      await rawPost(guarded.port, { ...accept, Authorization: `Bearer ${token}` }, initialize),
      200,
    );
    const client = new Client({ name: 'token-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(
      new URL(`http://127.0.0.1:${guarded.port}/mcp`),
      { requestInit: { headers: { Authorization: `Bearer ${token}` } } },
    );
    await client.connect(transport);
    assert.equal((await client.listTools()).tools.length, 2);
    await transport.terminateSession();
    await client.close();
    await guarded.stop();
    assert.doesNotMatch(guarded.stderr(), new RegExp(token));
  });
});
