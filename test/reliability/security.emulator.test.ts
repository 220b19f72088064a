import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  KubernetesApiError,
  PodCommandLineCodeExecutor,
  PodJupyterCodeExecutor,
  PodJupyterServer,
  type Logger,
} from '../../src/core/index.ts';
import { restrictedToken } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';
import { jupyterServerAvailable } from '../support/jupyterServer.ts';

/** A Logger that keeps every line, to scan for secrets. */
function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string | Error) =>
    lines.push(message instanceof Error ? `${message.message}\n${message.stack ?? ''}` : message);
  return { lines, trace: keep, debug: keep, info: keep, warn: keep, error: keep };
}

/** Local listening TCP sockets on `port`, as "address:port" from /proc (IPv4 and IPv6). */
function listenersOn(port: number): string[] {
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [address, hexPort] = (fields[1] ?? '').split(':');
      if (fields[3] === '0A' && hexPort && parseInt(hexPort, 16) === port) {
        found.push(`${address}:${port}`);
      }
    }
  }
  return found;
}

const loopbackV4 = '0100007F';

describe('security: secrets stay out of logs and errors, listeners stay on loopback, code is never re-parsed', () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const logger = capturingLogger();
  const errors: string[] = [];

  before(async () => {
    backend = await withBackend();
    // The fuzz test reads each block's code file back after the block.
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      logger,
      keepCodeFiles: true,
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    await backend.verifyNoLeaks();
  });

  test('no bearer token, Jupyter token or client key appears in a log line or an error', async (t) => {
    const restricted = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      context: backend.restrictedContext,
      logger,
    });
    await restricted.start().catch((error: Error) => errors.push(error.message, error.stack ?? ''));
    const server = new PodJupyterServer({ kubeconfig: backend.kubeconfigPath, logger });
    const secrets = [backend.kubeconfig.users[0]!.user.token, restrictedToken(backend)].filter(
      (s): s is string => typeof s === 'string' && s.length > 0,
    );
    if (jupyterServerAvailable()) {
      await server.start();
      try {
        const info = await server.connect();
        assert.ok(info.token, 'the gateway has a token');
        secrets.push(info.token);
        const kernel = new PodJupyterCodeExecutor(server, { logger });
        await kernel.start();
        await kernel.executeCodeBlocks([{ language: 'python', code: '1/0' }]);
        await kernel.stop();
        const wrong = new PodJupyterCodeExecutor(
          { ...info, token: `${info.token.slice(0, -4)}beef` },
          { logger },
        );
        await wrong.start().catch((error: Error) => errors.push(error.message, error.stack ?? ''));
      } finally {
        await server.stop();
      }
    } else {
      t.diagnostic('Jupyter Server is not installed: the gateway token is not part of this scan');
    }
    await executor.executeCodeBlocks([{ language: 'sh', code: 'exit 3' }]);
    assert.ok(logger.lines.length >= 3, `captured ${logger.lines.length} log lines`);
    assert.ok(errors.length >= 2, 'failures were provoked');
    for (const secret of secrets) {
      for (const text of [...logger.lines, ...errors]) {
        assert.ok(!text.includes(secret), `a secret leaked into: ${text.slice(0, 200)}`);
      }
    }
  });

  test("the port-forward (and the emulator's apiserver) listen on 127.0.0.1 only", async () => {
    const server = new PodJupyterServer({ kubeconfig: backend.kubeconfigPath });
    await server.start();
    try {
      const { port } = await server.connect();
      assert.ok(port, 'the forward has a local port');
      assert.deepEqual(listenersOn(port), [`${loopbackV4}:${port}`]);
    } finally {
      await server.stop();
    }
    if (backend.kind === 'emulator') {
      // A real apiserver's address is its operator's choice; the emulator's is 127.0.0.1.
      const apiPort = Number(new URL(backend.url).port);
      assert.deepEqual(listenersOn(apiPort), [`${loopbackV4}:${apiPort}`]);
    }
  });

  test('fuzz: code with shell metacharacters and random text reaches the pod byte for byte', async () => {
    const alphabet = [
      ...'$`\\"\'!*?;&|<>(){}[]#~=%^\t\r\n ',
      '$(id)',
      '`id`',
      '${HOME}',
      "'\"'\"'",
      '\nEOF\n',
      '\\\n',
      'ü',
      '日本',
      '🙂',
      '\u2028',
    ];
    for (let round = 0; round < 40; round++) {
      const pieces = Array.from({ length: randomInt(1, 200) }, () =>
        randomInt(4) === 0
          ? randomBytes(randomInt(1, 12)).toString('latin1').replace(/\0/g, '')
          : alphabet[randomInt(alphabet.length)]!,
      );
      const text = pieces.join('');
      // A quoted here-document never runs its body: the file is the transfer under test.
      const code = `: <<'POD_RUNNER_FUZZ_END'\n${text}\nPOD_RUNNER_FUZZ_END\n`;
      const result = await executor.executeCodeBlocks([{ language: 'sh', code }]);
      assert.equal(result.exitCode, 0, `round ${round}: ${result.output}`);
      const digest = await executor.executeCodeBlocks([
        { language: 'sh', code: `sha256sum '${result.codeFile ?? ''}' | cut -d' ' -f1` },
      ]);
      assert.equal(
        digest.output.trim(),
        createHash('sha256').update(code).digest('hex'),
        `round ${round}: the file in the pod differs from ${JSON.stringify(text).slice(0, 200)}`,
      );
    }
  });

  test('the executor and gateway pods run without a service account token', () => {
    const executorSpec = executor.podManifest.spec;
    assert.equal(executorSpec?.automountServiceAccountToken, false);
    const gateway = new PodJupyterServer({ kubeconfig: backend.kubeconfigPath });
    const manifests = gateway.manifestsFor('default');
    assert.equal(
      (manifests.pod.spec as { automountServiceAccountToken?: boolean })
        .automountServiceAccountToken,
      false,
    );
  });

  test('an API error message carries the request, never the credentials', async () => {
    const unreachable = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      namespace: 'does-not-exist',
      logger,
    });
    await assert.rejects(unreachable.start(), (error: KubernetesApiError) => {
      assert.ok(error instanceof KubernetesApiError);
      assert.ok(!error.message.includes(backend.kubeconfig.users[0]!.user.token ?? '\0'));
      return true;
    });
  });
});
