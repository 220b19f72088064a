import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export type ExecutorType = 'commandline' | 'jupyter';
export type Transport = 'stdio' | 'http';

/** The server's settings, from the command line (flags as autogen-kubernetes-mcp names them). */
export interface McpServerConfig {
  type: ExecutorType;
  transport: Transport;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  image?: string;
  podName?: string;
  /** Seconds per call; 60 for commandline, 120 for jupyter unless given. */
  timeout: number;
  workspacePath?: string;
  volume?: string;
  podSpec?: string;
  command?: string[];
  args?: string[];
  host: string;
  port: number;
  /** A local folder mirrored into the pod before each run (absolute). */
  sync?: string;
  /** Seconds without a run after which the pod stops by itself (0: never). */
  idleTimeout?: number;
  /** Required of every HTTP request when set; required to bind a non-loopback host. */
  token?: string;
}

/** Bad arguments: the CLI prints the message and the usage, and exits 2 without starting anything. */
export class UsageError extends Error {}

export const usage = `Usage: pod-runner-mcp <commandline|jupyter> [options]

Runs code for MCP clients in a Kubernetes pod: "commandline" runs each call in a fresh
process (tools: python, bash); "jupyter" keeps a Python kernel whose variables persist
across calls (tool: python). One pod per MCP session, started on the first call and
deleted when the session ends.

Cluster:
  --kubeconfig PATH        kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME           kubeconfig context (default: its current context)
  -n, --namespace NAME     namespace of the pod (default: the context's, else "default")
Pod:
  --image IMAGE            container image (default: python:3-slim; jupyter: the gateway image)
  --pod-name NAME          name of the pod (default: a generated one)
  --workspace-path PATH    working directory in the pod (default: /workspace)
  --volume SPEC            a volume mounted at the workspace: YAML/JSON text or a file path
  --pod-spec SPEC          a Pod manifest to start from: YAML/JSON text or a file path
  --command "CMD ..."      the container's command (split on whitespace)
  --args "ARG ..."         the container's arguments (split on whitespace)
  --idle-timeout SECONDS   the pod stops by itself after this long without a run (0: never)
Runs:
  --timeout SECONDS        limit per call (default: 60 commandline, 120 jupyter)
  --sync DIR               mirror this local folder into the pod before each run; code runs
                           in its copy, which is importable
Transport:
  --transport stdio|http   default stdio; http serves Streamable HTTP at /mcp and SSE at /sse
  --host HOST              HTTP address to bind (default: 127.0.0.1)
  --port PORT              HTTP port (default: 8000)
  --token TOKEN            bearer token every HTTP request must carry; required for a
                           non-loopback --host (default: env POD_RUNNER_MCP_TOKEN)
  -h, --help               show this help
`;

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1']);

export function isLoopback(host: string): boolean {
  return loopbackHosts.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const stringFlags = [
  'kubeconfig',
  'context',
  'namespace',
  'image',
  'pod-name',
  'timeout',
  'workspace-path',
  'volume',
  'pod-spec',
  'command',
  'args',
  'host',
  'port',
  'sync',
  'idle-timeout',
  'transport',
  'token',
] as const;

/** Parses the command line; `help` when -h/--help was given. Throws UsageError on bad input. */
export function parseCliArguments(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): McpServerConfig | 'help' {
  const values = parseFlags(argv);
  if (values.help === 'true') {
    return 'help';
  }
  const type = values.positional;
  if (type !== 'commandline' && type !== 'jupyter') {
    throw new UsageError(
      type === undefined
        ? 'the executor type is missing: expected "commandline" or "jupyter"'
        : `unknown executor type "${type}": expected "commandline" or "jupyter"`,
    );
  }
  const transport = values.transport ?? 'stdio';
  if (transport !== 'stdio' && transport !== 'http') {
    throw new UsageError(`--transport: expected "stdio" or "http", got "${transport}"`);
  }
  const host = values.host ?? '127.0.0.1';
  const token = values.token ?? (env.POD_RUNNER_MCP_TOKEN || undefined);
  if (transport === 'http' && !isLoopback(host) && !token) {
    throw new UsageError(
      `--host ${host} is not a loopback address: give --token (or POD_RUNNER_MCP_TOKEN) so only clients with it can run code`,
    );
  }
  const config: McpServerConfig = {
    type,
    transport,
    timeout: positive('--timeout', values.timeout) ?? (type === 'jupyter' ? 120 : 60),
    host,
    port: portNumber(values.port),
  };
  const optional: [keyof McpServerConfig, string | undefined][] = [
    ['kubeconfig', values.kubeconfig],
    ['context', values.context],
    ['namespace', values.namespace],
    ['image', values.image],
    ['podName', values['pod-name']],
    ['workspacePath', values['workspace-path']],
    ['volume', values.volume],
    ['podSpec', values['pod-spec']],
    ['token', token],
  ];
  for (const [key, value] of optional) {
    if (value !== undefined) {
      Object.assign(config, { [key]: value });
    }
  }
  const command = words('--command', values.command);
  const args = words('--args', values.args);
  return {
    ...config,
    ...(command && { command }),
    ...(args && { args }),
    ...(values.sync !== undefined && { sync: directory(values.sync) }),
    ...(values['idle-timeout'] !== undefined && {
      idleTimeout: nonNegative('--idle-timeout', values['idle-timeout']),
    }),
  };
}

type FlagValues = Partial<Record<(typeof stringFlags)[number] | 'help' | 'positional', string>>;

function parseFlags(argv: string[]): FlagValues {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinDashedValues(argv),
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(stringFlags.map((flag) => [flag, { type: 'string' as const }])),
        namespace: { type: 'string', short: 'n' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `one executor type expected, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`,
    );
  }
  const values: FlagValues = {};
  for (const [flag, value] of Object.entries(parsed.values)) {
    values[flag as keyof FlagValues] = String(value);
  }
  if (parsed.positionals[0] !== undefined) {
    values.positional = parsed.positionals[0];
  }
  return values;
}

/**
 * `--args "--port 9000"` is one value: container arguments usually start with a dash, which
 * parseArgs would otherwise take for a missing value.
 */
function joinDashedValues(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    if ((arg === '--command' || arg === '--args') && value !== undefined) {
      joined.push(`${arg}=${value}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function positive(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${flag}: expected a number of seconds greater than 0, got "${text}"`);
  }
  return value;
}

function nonNegative(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`${flag}: expected a number of seconds, 0 or more, got "${text}"`);
  }
  return value;
}

function portNumber(text: string | undefined): number {
  if (text === undefined) {
    return 8000;
  }
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535) {
    throw new UsageError(`--port: expected a port number from 0 to 65535, got "${text}"`);
  }
  return value;
}

/** `--command "python -m x"` → ["python", "-m", "x"], as autogen-kubernetes-mcp splits them. */
function words(flag: string, text: string | undefined): string[] | undefined {
  if (text === undefined) {
    return undefined;
  }
  const split = text.split(/\s+/).filter(Boolean);
  if (split.length === 0) {
    throw new UsageError(`${flag}: expected at least one word, got "${text}"`);
  }
  return split;
}

function directory(path: string): string {
  const absolute = resolve(path);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new UsageError(`--sync: expected an existing local directory, got "${path}"`);
  }
  return absolute;
}
