import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { gatewayKillAfterSeconds, gatewaySupervisorScript } from '../../src/core/idleStop.ts';

/**
 * A gateway with no kernels that loses its first `lose` SIGTERMs, as Jupyter Kernel Gateway
 * does when one lands while it writes a log line; the next one ends it as SIGTERM does.
 */
const gatewayLosingSigterms = `import http.server, json, os, signal, sys
lose = int(sys.argv[1])
received = 0

def on_term(*_):
    global received
    received += 1
    print("SIGTERM %d" % received, flush=True)
    if received > lose:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

class Kernels(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps([]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass

signal.signal(signal.SIGTERM, on_term)
server = http.server.HTTPServer(("127.0.0.1", int(os.environ["KG_PORT"])), Kernels)
print("ready", flush=True)
server.serve_forever()
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Supervised {
  /** The supervisor's exit code, what it and the gateway printed, and how long it ran. */
  ended: Promise<{ code: number | null; stdout: string; seconds: number }>;
  /** Resolves once the gateway handles SIGTERM and answers. */
  ready: Promise<void>;
  signal(name: NodeJS.Signals): void;
}

async function supervise(limitSeconds: number, lose: number, stepSeconds = 1): Promise<Supervised> {
  const started = Date.now();
  const child = spawn(
    'python3',
    ['-c', gatewaySupervisorScript, String(limitSeconds), String(stepSeconds)].concat([
      'python3',
      '-c',
      gatewayLosingSigterms,
      String(lose),
    ]),
    {
      env: { ...process.env, KG_PORT: String(await freePort()), KG_AUTH_TOKEN: 'x' },
      // Its own process group: a failed test kills the gateway with it.
      detached: true,
    },
  );
  let stdout = '';
  let isReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (isReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('ready\n')) {
      isReady();
    }
  });
  // Nothing may outlive a failed test.
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
  const ended = new Promise<{ code: number | null; stdout: string; seconds: number }>(
    (resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, seconds: (Date.now() - started) / 1000 });
      });
    },
  );
  return { ended, ready, signal: (name) => child.kill(name) };
}

test('an idle stop whose SIGTERM the gateway lost is sent again: the pod still ends Succeeded', async () => {
  const { code, stdout, seconds } = await (await supervise(1, 1)).ended;
  assert.equal(code, 0, stdout);
  assert.match(stdout, /no kernel ran anything for 1 seconds; stopping the gateway/);
  assert.match(stdout, /SIGTERM 1\n[^]*SIGTERM 2\n/, 'the lost signal was sent again');
  assert.ok(seconds < gatewayKillAfterSeconds, `ended by the second SIGTERM, in ${seconds} s`);
});

test('a pod deleted while the gateway loses its SIGTERM: sent again within its grace period, the exit says SIGTERM (143)', async () => {
  // The default timeout's 30 s between looks: the follow-up must not wait for the next look.
  const run = await supervise(3600, 1, 30);
  await run.ready;
  const signalled = Date.now();
  run.signal('SIGTERM');
  const { code, stdout } = await run.ended;
  assert.equal(code, 143, stdout);
  const seconds = (Date.now() - signalled) / 1000;
  assert.ok(seconds < 5, `ended ${seconds} s after the deletion's SIGTERM`);
  assert.match(stdout, /SIGTERM 1\n[^]*SIGTERM 2\n/);
  assert.doesNotMatch(stdout, /no kernel ran anything/);
});

test('a gateway that never ends on SIGTERM is killed once its shutdown had its time', async () => {
  const { code, stdout, seconds } = await (await supervise(1, 1_000)).ended;
  assert.equal(code, 0, stdout);
  assert.match(stdout, /SIGTERM 3\n/, 'asked again each step meanwhile');
  assert.ok(seconds >= gatewayKillAfterSeconds, `killed after ${seconds} s`);
});
