import assert from 'node:assert/strict';
import { processCountScript } from '../support/podHelpers.ts';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  ConnectionLostError,
  FunctionsSetupError,
  PermissionDeniedError,
  PodCommandLineCodeExecutor,
  PodStartError,
  withRequirements,
  type OutputChunk,
} from '../../src/core/index.ts';
import { apiRequest, managedPodNames, withEmulator } from '../support/emulatorFixture.ts';
import {
  backendName,
  emulatorOf,
  emulatorOnly,
  withBackend,
  type TestBackend,
} from '../support/backend.ts';

describe(`PodCommandLineCodeExecutor on ${backendName}`, () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  const run = (
    language: string,
    code: string,
    options?: Parameters<PodCommandLineCodeExecutor['executeCodeBlocks']>[1],
  ) => executor.executeCodeBlocks([{ language, code }], options);
  const inPod = async (script: string) => (await run('sh', script)).output;

  before(async () => {
    backend = await withBackend({ backoffBaseMs: 200 });
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 3,
      startupTimeout: 30,
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left behind');
    await backend.verifyNoLeaks();
  });

  test('runs python and shell blocks in the pod, in the workspace', async () => {
    const result = await executor.executeCodeBlocks([
      { language: 'python', code: "print('Hello, World!')" },
      { language: 'bash', code: 'pwd; hostname' },
    ]);
    assert.equal(result.exitCode, 0);
    assert.equal(result.output, `Hello, World!\n/workspace\n${executor.podName}\n`);
    assert.match(
      result.codeFile ?? '',
      /^\/workspace\/tmp_code_[0-9a-f]{64}\.py$/,
      'codeFile is the first file',
    );
  });

  test('code arrives byte-exact: $HOME, backticks, backslashes, a line EOF, quotes, 5 MB', async () => {
    const tricky = 'echo "$HOME" `hostname` \\\\n \'single\' "double"\nEOF\n$(whoami)\n';
    const script = `import hashlib, sys\ndata = ${JSON.stringify(tricky)}\nsrc = open(__file__, 'rb').read()\nprint(hashlib.sha256(src).hexdigest())\n`;
    const result = await run('python', script);
    const { createHash } = await import('node:crypto');
    assert.equal(result.output.trim(), createHash('sha256').update(script).digest('hex'));
    const big = `x = ${JSON.stringify(randomBytes(2_600_000).toString('hex'))}\nprint(len(x))\n`;
    assert.ok(big.length > 5_000_000);
    const large = await run('python', big);
    assert.equal(large.output, '5200000\n');
    const shell = await run('sh', 'cat <<EOF\n$HOME `echo no`\nEOF');
    assert.equal(
      shell.output,
      '/root no\n',
      "the heredoc is the program's own, run by sh, not the transfer",
    );
  });

  test("the program's stdin is empty: input() gets EOF instead of hanging", async () => {
    const result = await run('python', 'try:\n    input()\nexcept EOFError:\n    print("eof")');
    assert.equal(result.output, 'eof\n');
  });

  test('exit codes, stop at the first failure, unknown languages and missing interpreters are results', async () => {
    const failing = await executor.executeCodeBlocks([
      { language: 'sh', code: 'echo one' },
      { language: 'sh', code: 'echo two; exit 3' },
      { language: 'sh', code: 'echo three' },
    ]);
    assert.equal(failing.exitCode, 3);
    assert.equal(failing.output, 'one\ntwo\n');
    assert.deepEqual(await run('javascript', 'console.log(1)'), {
      exitCode: 1,
      output: 'Unsupported language: javascript',
    });
    const pwsh = await run('pwsh', 'Write-Host hi');
    assert.equal(pwsh.exitCode, 127);
    assert.match(
      pwsh.output,
      /no interpreter for this language in the pod \(looked for: pwsh powershell\)/,
    );
    await assert.rejects(executor.executeCodeBlocks([]), /no code blocks to execute/);
  });

  test('# filename is honoured inside the workspace and refused when it escapes (checked in the pod)', async () => {
    const named = await run('python', '# filename: pkg/dir with space/app.py\nprint(__file__)');
    assert.equal(named.output, '/workspace/pkg/dir with space/app.py\n');
    assert.equal(named.codeFile, '/workspace/pkg/dir with space/app.py');
    for (const name of ['../escape.py', '/etc/evil.py', 'a/../../x.py']) {
      assert.deepEqual(
        await run('python', `# filename: ${name}\nprint(1)`),
        { exitCode: 1, output: 'Filename is not in the workspace' },
        name,
      );
    }
    await inPod('ln -sfn /tmp /workspace/link');
    assert.deepEqual(await run('python', '# filename: link/x.py\nprint(1)'), {
      exitCode: 1,
      output: 'Filename is not in the workspace',
    });
    assert.equal(
      await inPod('ls /tmp/x.py 2>&1 || echo absent'),
      "ls: cannot access '/tmp/x.py': No such file or directory\nabsent\n",
    );
  });

  test('output streams as it arrives, stdout and stderr interleaved in order', async () => {
    const chunks: OutputChunk[] = [];
    const result = await run(
      'python',
      'import sys, time\nprint("a")\ntime.sleep(0.2)\nprint("b", file=sys.stderr)\ntime.sleep(0.2)\nprint("c")',
      { onOutput: (c) => chunks.push(c) },
    );
    assert.equal(result.output, 'a\nb\nc\n');
    const merged = chunks.reduce<OutputChunk[]>((runs, chunk) => {
      const last = runs.at(-1);
      if (last?.stream === chunk.stream) {
        last.text += chunk.text;
      } else {
        runs.push({ ...chunk });
      }
      return runs;
    }, []);
    assert.deepEqual(merged, [
      { stream: 'stdout', text: 'a\n' },
      { stream: 'stderr', text: 'b\n' },
      { stream: 'stdout', text: 'c\n' },
    ]);
  });

  test('a character split across frames arrives whole; invalid UTF-8 is replaced, not fatal', async () => {
    const result = await run(
      'python',
      'import sys, time\nb = "é€😀".encode()\nfor i in range(len(b)):\n    sys.stdout.buffer.write(b[i:i+1]); sys.stdout.flush(); time.sleep(0.02)\nsys.stdout.buffer.write(b"\\xff\\xfe ok\\n")',
    );
    assert.equal(result.output, 'é€😀\uFFFD\uFFFD ok\n');
  });

  test('a timeout gives 124 and "\\n Timeout", and kills the whole process tree (also what ignores SIGTERM)', async () => {
    const started = Date.now();
    const result = await run(
      'sh',
      'trap "" TERM; (trap "" TERM; sleep 60) & echo started; sleep 60',
    );
    assert.equal(result.exitCode, 124);
    assert.equal(result.output, 'started\n\n Timeout');
    assert.ok(Date.now() - started < 12_000);
    assert.equal(
      await inPod(processCountScript('[s]leep 60')),
      '0\n',
      'no process of the block survives',
    );
  });

  test('cancellation kills the remote tree and returns the output so far with the seed text', async () => {
    const controller = new AbortController();
    const chunks: string[] = [];
    // Not `sleep` 1 to 30: the pod's keep-alive sleeps that long between its idle checks.
    const pending = run('sh', 'echo begun; sleep 37 & sleep 38', {
      signal: controller.signal,
      onOutput: (c) => {
        chunks.push(c.text);
        controller.abort();
      },
    });
    const result = await pending;
    assert.equal(result.exitCode, 1);
    assert.equal(result.output, 'begun\nCode execution was cancelled.');
    assert.equal(await inPod(processCountScript('[s]leep 3[78]')), '0\n');
    const aborted = AbortSignal.abort();
    assert.deepEqual(await run('sh', 'touch /workspace/should-not-exist', { signal: aborted }), {
      exitCode: 1,
      output: 'Code execution was cancelled.',
    });
    assert.equal(await inPod('ls /workspace/should-not-exist 2>/dev/null || echo none'), 'none\n');
  });

  test('8 parallel calls on one executor run and keep their outputs apart', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        run('python', `import time\nfor j in range(3):\n    print(${i}, j)\n    time.sleep(0.05)`),
      ),
    );
    results.forEach((result, i) => assert.equal(result.output, `${i} 0\n${i} 1\n${i} 2\n`));
  });

  test('maxOutputBytes keeps the head and tail of a flood', async () => {
    const reuse = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podName: 'flood',
      maxOutputBytes: 1000,
      timeout: 10,
    });
    await reuse.start();
    try {
      const result = await reuse.executeCodeBlocks([
        { language: 'python', code: 'for i in range(100000):\n    print("line", i)' },
      ]);
      assert.ok(result.output.startsWith('line 0\nline 1\n'));
      assert.ok(result.output.endsWith('line 99999\n'));
      assert.match(result.output, /bytes of output truncated/);
      assert.ok(result.output.length < 1200);
    } finally {
      await reuse.stop();
    }
  });

  test('functions are written, imported once to validate them, and importable by blocks', async () => {
    const withFunctions = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      functions: [
        withRequirements('def add(a, b):\n    """Adds."""\n    return a + b\n', {
          globalImports: ['math'],
        }),
      ],
    });
    await withFunctions.start();
    try {
      const result = await withFunctions.executeCodeBlocks([
        { language: 'python', code: 'from functions import add\nprint(add(2, 3))' },
      ]);
      assert.equal(result.output, '5\n');
    } finally {
      await withFunctions.stop();
    }
    const broken = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      functions: [withRequirements('def bad(:\n    pass\n')],
    });
    await broken.start();
    try {
      await assert.rejects(
        broken.executeCodeBlocks([{ language: 'python', code: 'print(1)' }]),
        (error: FunctionsSetupError) => {
          assert.ok(error instanceof FunctionsSetupError);
          assert.match(error.message, /failed to import:[\s\S]*SyntaxError/);
          return true;
        },
      );
    } finally {
      await broken.stop();
    }
  });

  test('an unpullable image fails fast with the cause and events, and the pod is deleted', async () => {
    const failing = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      image: 'invalid.example/python:3',
      startupTimeout: 60,
    });
    const started = Date.now();
    await assert.rejects(failing.start(), (error: PodStartError) => {
      assert.ok(error instanceof PodStartError);
      assert.match(error.reason, /ErrImagePull|ImagePullBackOff/);
      assert.match(error.message, /Failed to pull image "invalid\.example\/python:3"/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, 'fails fast, not after the startup timeout');
    assert.deepEqual(
      (await managedPodNames(backend)).filter((name) => name === failing.podName),
      [],
    );
  });

  test('a pod whose keep-alive dies fails fast, quoting its last log lines; `await using` cleans up', async () => {
    const crashing = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podSpec: {
        spec: {
          containers: [
            {
              name: 'autogen-executor',
              image: 'python:3-slim',
              command: ['sh', '-c', 'echo boom: missing config >&2; sleep 0.3; exit 3'],
              readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 },
            },
          ],
        },
      },
    });
    await assert.rejects(crashing.start(), (error: PodStartError) => {
      assert.ok(error instanceof PodStartError);
      assert.match(error.message, /container exited with code 3/);
      assert.match(error.message, /Last log lines:\n {2}boom: missing config/);
      return true;
    });
    assert.ok(!(await managedPodNames(backend)).includes(crashing.podName));
    let name = '';
    {
      await using scoped = new PodCommandLineCodeExecutor({ kubeconfig: backend.kubeconfigPath });
      await scoped.start();
      name = scoped.podName;
      assert.ok((await managedPodNames(backend)).includes(name));
    }
    assert.ok(!(await managedPodNames(backend)).includes(name), '`await using` deleted the pod');
  });

  test(
    'a server that only speaks v4 (no stdin half-close) still transfers code exactly',
    {
      skip: emulatorOnly('a server limited to v4 is an emulator option'),
    },
    async () => {
      const v4 = await withEmulator({ streamProtocols: ['v4.channel.k8s.io'] });
      const old = new PodCommandLineCodeExecutor({ kubeconfig: v4.kubeconfigPath });
      try {
        await old.start();
        const result = await old.executeCodeBlocks([
          {
            language: 'python',
            code: 'import sys\nprint(repr(sys.stdin.read()))\nprint("$HOME `x`")',
          },
        ]);
        assert.equal(result.output, "''\n$HOME `x`\n");
      } finally {
        await old.stop();
        await v4.verifyNoLeaks();
      }
    },
  );

  test('the restricted user is stopped by a preflight that lists every missing permission, before anything is created', async () => {
    const before = await managedPodNames(backend);
    const restricted = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      context: backend.restrictedContext,
    });
    await assert.rejects(restricted.start(), (error: PermissionDeniedError) => {
      assert.ok(error instanceof PermissionDeniedError);
      assert.match(
        error.message,
        /may not create pods\/exec, get pods\/exec in namespace default; nothing was created/,
      );
      assert.match(error.message, /RBAC section/);
      return true;
    });
    assert.deepEqual(await managedPodNames(backend), before, 'no pod was created');
  });

  test(
    'a dropped exec connection is a ConnectionLostError naming the pod, never exit code 0',
    {
      skip: emulatorOnly('drops connections by fault injection'),
    },
    async () => {
      const pending = run('sh', 'sleep 1; echo late');
      await new Promise((resolve) => setTimeout(resolve, 300));
      emulatorOf(backend).faults.dropConnections('default', executor.podName);
      await assert.rejects(
        pending,
        (error: ConnectionLostError) =>
          error instanceof ConnectionLostError && error.message.includes(executor.podName),
      );
    },
  );

  test('restart() gives a fresh pod; stop() deletes it and start() works again', async () => {
    await inPod('echo state > /workspace/state');
    await executor.restart();
    assert.equal(await inPod('cat /workspace/state 2>/dev/null || echo fresh'), 'fresh\n');
    await executor.stop();
    assert.deepEqual(await managedPodNames(backend), []);
    await assert.rejects(run('sh', 'true'), /not running/);
    await executor.start();
    assert.equal(await inPod('echo back'), 'back\n');
  });

  test('a same-named pod is reused only when it is ours and autoRemove is false', async () => {
    const clash = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podName: executor.podName,
    });
    await assert.rejects(
      clash.start(),
      /already exists; it can be reused only with autoRemove: false/,
    );
    await apiRequest(backend, 'POST', '/api/v1/namespaces/default/pods', {
      body: {
        metadata: { name: 'foreign' },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'autogen-executor', image: 'busybox', command: ['sleep', '60'] }],
        },
      },
    });
    const foreign = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podName: 'foreign',
      autoRemove: false,
    });
    await assert.rejects(
      foreign.start(),
      /pod default\/foreign already exists and was not created by Pod Runner/,
    );
    assert.equal(
      (await apiRequest(backend, 'GET', '/api/v1/namespaces/default/pods/foreign')).status,
      200,
      'a pod that is not ours is left alone',
    );
    await apiRequest(
      backend,
      'DELETE',
      '/api/v1/namespaces/default/pods/foreign?gracePeriodSeconds=0',
    );
  });

  test('pods of a crashed client are found by label and removed by the reap function', async () => {
    const { listManagedPods, reapOrphanedPods } = await import('../../src/core/index.ts');
    const { spawn } = await import('node:child_process');
    const script = `const { PodCommandLineCodeExecutor } = require(${JSON.stringify(require.resolve('../../src/core/index.ts'))}); new PodCommandLineCodeExecutor({ kubeconfig: process.argv[1], podName: 'crashed-client', activeDeadlineSeconds: 600 }).start().then(() => { process.stdout.write('started'); setInterval(() => {}, 1000); });`;
    const client = spawn(
      process.execPath,
      ['--import', 'tsx', '-e', script, backend.kubeconfigPath],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => client.stdout.on('data', () => resolve()));
    client.kill('SIGKILL');
    const orphan = (await listManagedPods({ kubeconfig: backend.kubeconfigPath })).find(
      (pod) => pod.name === 'crashed-client',
    );
    assert.ok(orphan, 'the crashed client left its pod behind');
    const podSpec = (
      await apiRequest(backend, 'GET', '/api/v1/namespaces/default/pods/crashed-client')
    ).body as { spec: { activeDeadlineSeconds: number } };
    assert.equal(podSpec.spec.activeDeadlineSeconds, 600);
    const deleted = await reapOrphanedPods({
      kubeconfig: backend.kubeconfigPath,
      keep: [executor.podName],
    });
    assert.deepEqual(deleted, ['crashed-client']);
    assert.ok(
      (await managedPodNames(backend)).includes(executor.podName),
      'the live executor pod is kept',
    );
  });

  test('autoRemove false leaves the pod for the next executor of the same name, which reuses it', async () => {
    const first = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podName: 'kept',
      autoRemove: false,
    });
    await first.start();
    await first.executeCodeBlocks([{ language: 'sh', code: 'echo kept > /workspace/marker' }]);
    await first[Symbol.asyncDispose]();
    assert.ok((await managedPodNames(backend)).includes('kept'));
    const second = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      podName: 'kept',
      autoRemove: false,
    });
    await second.start();
    assert.equal(
      (await second.executeCodeBlocks([{ language: 'sh', code: 'cat /workspace/marker' }])).output,
      'kept\n',
    );
    await second.stop();
    assert.ok(!(await managedPodNames(backend)).includes('kept'));
  });
});
