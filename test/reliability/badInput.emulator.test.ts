import assert from 'node:assert/strict';
import { processCountScript } from '../support/podHelpers.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ExecutorStateError,
  FunctionsSetupError,
  KubeconfigError,
  KubernetesApiError,
  OptionError,
  PermissionDeniedError,
  PodCommandLineCodeExecutor,
  PodJupyterServer,
  SpecError,
  loadClusterTarget,
  withRequirements,
} from '../../src/core/index.ts';
import { apiRequest, managedPodNames } from '../support/emulatorFixture.ts';
import { withBackend, type TestBackend } from '../support/backend.ts';

/** A bad input and what must come of it: a typed error naming the field or file, or a result. */
interface BadInput {
  name: string;
  check: () => Promise<void> | void;
}

const pod = (spec: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'bad-input' },
  spec,
});

function throwsTyped(
  action: () => unknown,
  type: new (...args: never[]) => Error,
  message: RegExp | string,
): void {
  assert.throws(action, (error: Error) => {
    assert.ok(error instanceof type, `${error.constructor.name}: ${error.message}`);
    if (typeof message === 'string') {
      assert.ok(error.message.includes(message), error.message);
    } else {
      assert.match(error.message, message);
    }
    return true;
  });
}

async function rejectsTyped(
  action: Promise<unknown>,
  type: new (...args: never[]) => Error,
  message: RegExp,
): Promise<void> {
  await assert.rejects(action, (error: Error) => {
    assert.ok(error instanceof type, `${error.constructor.name}: ${error.message}`);
    assert.match(error.message, message);
    return true;
  });
}

describe('bad input: a clear error or a correct result, nothing left running', () => {
  let backend: TestBackend;
  let executor: PodCommandLineCodeExecutor;
  let scratch: string;
  const run = (language: string, code: string) => executor.executeCodeBlocks([{ language, code }]);

  before(async () => {
    backend = await withBackend();
    scratch = await mkdtemp(join(tmpdir(), 'pod-runner-bad-input-'));
    executor = new PodCommandLineCodeExecutor({
      kubeconfig: backend.kubeconfigPath,
      timeout: 5,
    });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    await rm(scratch, { recursive: true, force: true });
    assert.deepEqual(await managedPodNames(backend), [], 'no pod of ours is left');
    await backend.verifyNoLeaks();
  });

  const specCases: BadInput[] = [
    {
      name: 'invalid YAML podSpec: line and column',
      check: () =>
        throwsTyped(
          () =>
            new PodCommandLineCodeExecutor({
              podSpec: 'kind: Pod\nmetadata:\n  name: x\n spec: [',
            }),
          SpecError,
          /podSpec: invalid YAML\/JSON .* at line \d+, column \d+/,
        ),
    },
    {
      name: 'invalid JSON podSpec: line and column',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ podSpec: '{"kind": "Pod",, }' }),
          SpecError,
          /podSpec: invalid YAML\/JSON .* at line 1, column \d+/,
        ),
    },
    {
      name: 'a spec file that does not exist',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ podSpec: join(scratch, 'missing.yaml') }),
          SpecError,
          /spec file not found: .*missing\.yaml/,
        ),
    },
    {
      name: 'a multi-document file without a Pod',
      check: async () => {
        const file = join(scratch, 'multi.yaml');
        await writeFile(
          file,
          'kind: Service\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: b}\n',
        );
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ podSpec: file }),
          SpecError,
          /has no manifest of kind Pod \(found: Service, Secret\)/,
        );
      },
    },
    {
      name: 'a Pod without the executor container',
      check: () =>
        throwsTyped(
          () =>
            new PodCommandLineCodeExecutor({
              podSpec: pod({ containers: [{ name: 'other', image: 'busybox' }] }),
            }),
          SpecError,
          /no container named "autogen-executor" \(found: other\)/,
        ),
    },
    {
      name: 'wrong types: containers: "x"',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ podSpec: pod({ containers: 'x' }) }),
          SpecError,
          /spec\.containers must be a list of containers, got the string "x"/,
        ),
    },
    ...['Bad_Name', 'ends-with-dash-', '-starts-with-dash', 'x'.repeat(254), ''].map(
      (name): BadInput => ({
        name: `invalid pod name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}`,
        check: () =>
          throwsTyped(
            () => new PodCommandLineCodeExecutor({ podName: name }),
            OptionError,
            /is not a valid pod name/,
          ),
      }),
    ),
    {
      name: 'a relative workspace path',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ workspacePath: 'work' }),
          OptionError,
          /workspacePath: must be an absolute POSIX path inside the pod, got "work"/,
        ),
    },
    {
      name: 'a zero timeout',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ timeout: 0 }),
          OptionError,
          /timeout: must be a number of at least 1/,
        ),
    },
    {
      name: 'a startup timeout that is not a number',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ startupTimeout: 'soon' as unknown as number }),
          OptionError,
          /startupTimeout: must be a number/,
        ),
    },
    {
      name: 'a volume that is not YAML',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ volume: 'name: [' }),
          SpecError,
          /volume: invalid YAML\/JSON .* at line \d+, column \d+/,
        ),
    },
    {
      name: 'a volume without a name',
      check: () =>
        throwsTyped(
          () => new PodCommandLineCodeExecutor({ volume: { emptyDir: {} } }),
          SpecError,
          /volume .*needs a name/,
        ),
    },
    {
      name: 'a Jupyter port out of range',
      check: () =>
        throwsTyped(
          () => new PodJupyterServer({ port: 70000 }),
          OptionError,
          /port: must be a port number from 1 to 65535, got 70000/,
        ),
    },
    {
      name: 'an invalid Jupyter pod name',
      check: () =>
        throwsTyped(
          () => new PodJupyterServer({ podName: 'UPPER' }),
          OptionError,
          /podName: "UPPER" is not valid/,
        ),
    },
  ];

  const kubeconfigCases: BadInput[] = [
    {
      name: 'a kubeconfig without the chosen context',
      check: () =>
        throwsTyped(
          () => loadClusterTarget({ kubeconfig: backend.kubeconfigPath, context: 'production' }),
          KubeconfigError,
          `context "production" is not in the kubeconfig (available: ${backend.kubeconfig.contexts.map((c) => c.name).join(', ')})`,
        ),
    },
    {
      name: 'a kubeconfig file that does not exist',
      check: () =>
        throwsTyped(
          () => loadClusterTarget({ kubeconfig: join(scratch, 'nope') }),
          KubeconfigError,
          /kubeconfig file not found: .*nope/,
        ),
    },
    {
      name: 'a kubeconfig that is not YAML',
      check: async () => {
        const file = join(scratch, 'garbage.kubeconfig');
        await writeFile(file, 'clusters: [\n');
        throwsTyped(
          () => loadClusterTarget({ kubeconfig: file }),
          KubeconfigError,
          /cannot load kubeconfig from .*garbage\.kubeconfig/,
        );
      },
    },
    {
      name: "a kubeconfig whose exec plugin is missing: the plugin's name and install hint",
      check: async () => {
        const file = join(scratch, 'plugin.kubeconfig');
        await writeFile(
          file,
          [
            'apiVersion: v1',
            'kind: Config',
            'current-context: c',
            'clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443"}}]',
            'contexts: [{name: c, context: {cluster: k, user: u}}]',
            'users:',
            '- name: u',
            '  user:',
            '    exec:',
            '      apiVersion: client.authentication.k8s.io/v1beta1',
            '      command: pod-runner-test-missing-auth-plugin',
            '      installHint: "Install it with: apt-get install pod-runner-test-missing-auth-plugin"',
          ].join('\n'),
        );
        throwsTyped(
          () => loadClusterTarget({ kubeconfig: file }),
          KubeconfigError,
          /exec plugin "pod-runner-test-missing-auth-plugin", which is not installed or not on PATH\nInstall it with: apt-get/,
        );
      },
    },
  ];

  const runtimeCases: BadInput[] = [
    {
      name: 'an unknown language is a result, not a crash',
      check: async () =>
        assert.deepEqual(await run('cobol', 'DISPLAY 1'), {
          exitCode: 1,
          output: 'Unsupported language: cobol',
        }),
    },
    {
      name: 'an empty block list',
      check: () =>
        rejectsTyped(
          executor.executeCodeBlocks([]),
          OptionError,
          /blocks: no code blocks to execute/,
        ),
    },
    {
      name: 'running before start()',
      check: () =>
        rejectsTyped(
          new PodCommandLineCodeExecutor({ kubeconfig: backend.kubeconfigPath }).executeCodeBlocks([
            { language: 'sh', code: 'true' },
          ]),
          ExecutorStateError,
          /not running: call start\(\) first/,
        ),
    },
    {
      name: 'a 20 MB code block arrives whole',
      check: async () => {
        const padding = `#${'x'.repeat(20 * 1024 * 1024)}\n`;
        const result = await run('python', `${padding}import os\nprint(os.path.getsize(__file__))`);
        assert.equal(result.exitCode, 0, result.output.slice(0, 300));
        assert.equal(
          Number(result.output),
          Buffer.byteLength(padding) + 'import os\nprint(os.path.getsize(__file__))'.length,
        );
      },
    },
    {
      name: 'NUL bytes and invalid UTF-8 in output',
      check: async () =>
        assert.equal((await run('sh', "printf 'a\\000b\\377c'")).output, 'a\u0000b\uFFFDc'),
    },
    {
      name: 'a program that closes stdout early',
      check: async () => {
        const result = await run('sh', 'echo before; exec 1>&-; sleep 0.2; echo after >&2');
        assert.deepEqual([result.exitCode, result.output], [0, 'before\nafter\n']);
      },
    },
    {
      name: 'a shell block that leaves a daemon holding stdout does not hang',
      check: async () => {
        const started = Date.now();
        const result = await run('sh', 'sleep 300 & echo started');
        assert.deepEqual([result.exitCode, result.output], [0, 'started\n']);
        assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
      },
    },
    {
      name: 'a python block that leaves a daemon holding stdout does not hang',
      check: async () => {
        const started = Date.now();
        const result = await run(
          'python',
          "import subprocess\nsubprocess.Popen(['sleep', '300'])\nprint('started')",
        );
        assert.deepEqual([result.exitCode, result.output], [0, 'started\n']);
        assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
        assert.equal(
          (await run('sh', processCountScript('[s]leep 300'))).output,
          '0\n',
          'the daemon is gone',
        );
      },
    },
    ...['../escape.py', '/etc/escape.py', '/workspace/../tmp/escape.py', 'sub/../../escape.py'].map(
      (filename): BadInput => ({
        name: `# filename: ${filename} is refused`,
        check: async () =>
          assert.deepEqual(await run('python', `# filename: ${filename}\nprint(1)`), {
            exitCode: 1,
            output: 'Filename is not in the workspace',
          }),
      }),
    ),
    {
      name: '# filename: through a symlink in the pod that leads out is refused',
      check: async () => {
        await run('sh', 'ln -sfn /tmp /workspace/outside');
        assert.deepEqual(await run('python', '# filename: outside/escape.py\nprint(1)'), {
          exitCode: 1,
          output: 'Filename is not in the workspace',
        });
        assert.equal(
          (await run('sh', 'ls /tmp/escape.py 2>/dev/null || echo absent')).output,
          'absent\n',
        );
      },
    },
    {
      name: 'a functions module with a syntax error',
      check: async () => {
        const broken = new PodCommandLineCodeExecutor({
          kubeconfig: backend.kubeconfigPath,
          functions: [withRequirements('def broken(:\n    pass\n')],
        });
        await broken.start();
        try {
          await rejectsTyped(
            broken.executeCodeBlocks([{ language: 'python', code: 'print(1)' }]),
            FunctionsSetupError,
            /SyntaxError/,
          );
        } finally {
          await broken.stop();
        }
      },
    },
    {
      name: 'a namespace that does not exist',
      check: () =>
        rejectsTyped(
          new PodCommandLineCodeExecutor({
            kubeconfig: backend.kubeconfigPath,
            namespace: 'no-such-namespace',
          }).start(),
          KubernetesApiError,
          /no-such-namespace/,
        ),
    },
    {
      name: 'a Jupyter server for a user who may not touch secrets: every missing permission, nothing created',
      check: async () => {
        await rejectsTyped(
          new PodJupyterServer({
            kubeconfig: backend.kubeconfigPath,
            context: backend.restrictedContext,
          }).start(),
          PermissionDeniedError,
          /may not create secrets, delete secrets in namespace default; nothing was created/,
        );
        const secrets = (await apiRequest(backend, 'GET', '/api/v1/namespaces/default/secrets'))
          .body as { items: unknown[] };
        assert.equal(secrets.items.length, 0);
      },
    },
  ];

  const cases = [...specCases, ...kubeconfigCases, ...runtimeCases];

  test(`the table has at least 30 bad inputs (${cases.length})`, () => {
    assert.ok(cases.length >= 30, `only ${cases.length} cases`);
  });

  for (const badInput of cases) {
    test(badInput.name, () => badInput.check());
  }
});
