import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCliArguments, UsageError } from '../../src/mcp/cliArguments.ts';
import { scratchDir } from '../support/scratch.ts';

const noEnv = {};

test('defaults: stdio, 127.0.0.1:8000, 60 s for commandline and 120 s for jupyter', () => {
  assert.deepEqual(parseCliArguments(['commandline'], noEnv), {
    type: 'commandline',
    transport: 'stdio',
    timeout: 60,
    host: '127.0.0.1',
    port: 8000,
  });
  assert.equal((parseCliArguments(['jupyter'], noEnv) as { timeout: number }).timeout, 120);
});

test("autogen-kubernetes-mcp's flags, with --command and --args split on whitespace", () => {
  const project = scratchDir('pod-runner-mcp-args-');
  assert.deepEqual(
    parseCliArguments(
      [
        'jupyter',
        '--kubeconfig=/k/config',
        '--context',
        'dev',
        '-n',
        'tools',
        '--image',
        'gateway:1',
        '--pod-name',
        'py-kernel',
        '--timeout',
        '30',
        '--workspace-path',
        '/data',
        '--volume',
        '{"name": "w", "emptyDir": {}}',
        '--pod-spec',
        'pod.yaml',
        '--command',
        ' jupyter  kernelgateway ',
        '--args',
        '--KernelGatewayApp.ip=0.0.0.0 --debug',
        '--sync',
        project,
        '--idle-timeout',
        '0',
        '--transport',
        'http',
        '--port',
        '0',
      ],
      noEnv,
    ),
    {
      type: 'jupyter',
      transport: 'http',
      timeout: 30,
      host: '127.0.0.1',
      port: 0,
      kubeconfig: '/k/config',
      context: 'dev',
      namespace: 'tools',
      image: 'gateway:1',
      podName: 'py-kernel',
      workspacePath: '/data',
      volume: '{"name": "w", "emptyDir": {}}',
      podSpec: 'pod.yaml',
      command: ['jupyter', 'kernelgateway'],
      args: ['--KernelGatewayApp.ip=0.0.0.0', '--debug'],
      sync: project,
      idleTimeout: 0,
    },
  );
});

test('a non-loopback host needs a token, from --token or POD_RUNNER_MCP_TOKEN', () => {
  const http = ['commandline', '--transport', 'http', '--host', '0.0.0.0'];
  assert.throws(() => parseCliArguments(http, noEnv), /--host 0\.0\.0\.0 .* give --token/);
  assert.equal(
    (parseCliArguments(http, { POD_RUNNER_MCP_TOKEN: 'from-env' }) as { token: string }).token,
    'from-env',
  );
  assert.equal(
    (parseCliArguments([...http, '--token', 'flag'], noEnv) as { token: string }).token,
    'flag',
  );
});

test('bad arguments name the flag and what was expected', () => {
  const cases: [string[], RegExp][] = [
    [[], /the executor type is missing: expected "commandline" or "jupyter"/],
    [['kernel'], /unknown executor type "kernel"/],
    [['commandline', 'jupyter'], /one executor type expected, got 2/],
    [['commandline', '--timeout', '0'], /--timeout: expected a number of seconds greater than 0/],
    [['commandline', '--timeout', 'soon'], /--timeout: .* got "soon"/],
    [['commandline', '--port', '70000'], /--port: expected a port number/],
    [
      ['commandline', '--idle-timeout=-1'],
      /--idle-timeout: expected a number of seconds, 0 or more/,
    ],
    [['commandline', '--transport', 'ws'], /--transport: expected "stdio" or "http", got "ws"/],
    [['commandline', '--sync', '/no/such/folder'], /--sync: expected an existing local directory/],
    [['commandline', '--command', '  '], /--command: expected at least one word/],
    [['commandline', '--bogus'], /Unknown option '--bogus'/],
    [['commandline', '--image'], /--image/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseCliArguments(argv, noEnv),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
      argv.join(' '),
    );
  }
});

test('-h and --help ask for the usage', () => {
  assert.equal(parseCliArguments(['--help'], noEnv), 'help');
  assert.equal(parseCliArguments(['-h'], noEnv), 'help');
});
