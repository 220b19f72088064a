import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { podNetworkRuleComment } from '../emulator/kubelet/podNetwork.ts';
import { sandboxMarkerVariable } from '../emulator/kubelet/sandbox.ts';
import {
  startEmulator,
  type EmulatorOptions,
  type ManagedObjects,
  type RunningEmulator,
} from '../emulator/index.ts';

export const execFileAsync = promisify(execFile);

/** True where a missing tool must fail the run instead of skipping (CI sets CI=true). */
export const strict = process.env.CI === 'true' || process.env.POD_RUNNER_REQUIRE_ALL_TIERS === '1';

/**
 * Skips a test whose tool is missing, loudly; in CI (strict) a missing tool fails the test, so no
 * tier passes by not running.
 */
export function requireTool(
  t: { skip(message: string): void },
  available: boolean,
  what: string,
): boolean {
  if (available) {
    return true;
  }
  const message = `SKIPPED: ${what} is not available on this machine`;
  process.stderr.write(`\n*** ${message} ***\n\n`);
  if (strict) {
    assert.fail(`${message} (CI requires it)`);
  }
  t.skip(message);
  return false;
}

/**
 * Host processes started for an emulator's sandboxes (pause, container, exec and bridge
 * processes are marked in their environment) and all their descendants.
 */
export function sandboxProcesses(workDir: string): string[] {
  const parents = new Map<number, number>();
  const marked = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (environ.includes(`${sandboxMarkerVariable}=${workDir}`)) {
        marked.add(pid);
      }
    } catch {
      // The process ended while we looked.
    }
  }
  const belongs = (pid: number): boolean => {
    for (
      let current: number | undefined = pid, depth = 0;
      current && depth < 64;
      current = parents.get(current), depth++
    ) {
      if (marked.has(current)) {
        return true;
      }
    }
    return false;
  };
  return [...parents.keys()].filter(belongs).map((pid) => {
    try {
      return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`;
    } catch {
      return `${pid}`;
    }
  });
}

/** Host mounts under an emulator's state directory (there must be none: sandboxes mount privately). */
export function emulatorMounts(workDir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(workDir));
}

/**
 * What pods' networks put on the host and must take away: veth ends and iptables rules (by their
 * comment). IP forwarding, once on, stays on, as on a node.
 */
export function podNetworkState(): string[] {
  const tool = (command: string, args: string[]) =>
    spawnSync(command, args, { encoding: 'utf8' }).stdout ?? '';
  const links = tool('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((line) => /^\d+: (prv[0-9a-f]+)[@:]/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  const rules = [tool('iptables', ['-w', '-S']), tool('iptables', ['-w', '-t', 'nat', '-S'])]
    .join('\n')
    .split('\n')
    .filter((rule) => rule.includes(podNetworkRuleComment));
  return [...links.map((name) => `veth ${name}`), ...rules];
}

/** Starts an emulator for one test file and checks, at the end, that it left nothing behind. */
export async function withEmulator(
  options: EmulatorOptions = {},
): Promise<RunningEmulator & { verifyNoLeaks(): Promise<void> }> {
  const emulator = await startEmulator(options);
  const workDir = emulator.stateDirectory;
  return Object.assign(emulator, {
    async verifyNoLeaks() {
      // Pods being deleted get their grace period; anything still there after it was left behind.
      const nothingManaged = (objects: ManagedObjects) =>
        objects.pods.length + objects.secrets.length + objects.services.length === 0;
      await eventually(() => nothingManaged(emulator.managedObjects()), 15_000, 'cleanup').catch(
        () => undefined,
      );
      const left = emulator.managedObjects();
      if (!nothingManaged(left)) {
        await emulator.stop();
        assert.fail(`Pod Runner's objects were left in the emulator: ${JSON.stringify(left)}`);
      }
      await emulator.stop();
      for (let i = 0; i < 50 && sandboxProcesses(workDir).length > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(
        sandboxProcesses(workDir),
        [],
        'no sandbox process may outlive the emulator',
      );
      assert.deepEqual(emulatorMounts(workDir), [], 'no mount may be left on the host');
      assert.equal(existsSync(workDir), false, 'the emulator removes its temporary directory');
    },
  });
}

/** kubectl's version as [major, minor], or undefined when there is none. */
export function kubectlVersion(): [number, number] | undefined {
  const result = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (result.status !== 0) {
    return undefined;
  }
  try {
    const info = JSON.parse(result.stdout) as {
      clientVersion?: { major?: string; minor?: string };
    };
    return [
      Number(info.clientVersion?.major),
      Number.parseInt(info.clientVersion?.minor ?? '', 10),
    ];
  } catch {
    return undefined;
  }
}

export function pythonKubernetesAvailable(): boolean {
  return (
    spawnSync('/usr/bin/python3', ['-c', 'import kubernetes'], { encoding: 'utf8' }).status === 0
  );
}

/** Polls `check` until it returns a value (not undefined) or the time runs out. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      // `false` means "not yet" too, so a plain boolean check cannot pass by accident.
      if (value !== undefined && value !== false) {
        return value;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/** What a raw API request needs: the server and the kubeconfig (an emulator or a cluster). */
export type ApiTarget = Pick<RunningEmulator, 'url' | 'kubeconfig'>;

/** A raw HTTPS request to the API server as the given kubeconfig user (admin unless a token is given). */
export async function apiRequest(
  emulator: ApiTarget,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; contentType?: string } = {},
): Promise<ApiResponse> {
  const { request } = await import('node:https');
  const ca = Buffer.from(
    emulator.kubeconfig.clusters[0]!.cluster['certificate-authority-data'],
    'base64',
  );
  const token = options.token ?? emulator.kubeconfig.users[0]!.user.token;
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, emulator.url),
      {
        method,
        ca,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined
            ? { 'Content-Type': options.contentType ?? 'application/json' }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON (logs, plain text).
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export const restrictedToken = (emulator: ApiTarget) => emulator.kubeconfig.users[1]!.user.token;

/** Names of the pods Pod Runner created (by its managed-by label), in every namespace. */
/** Names of Pod Runner's objects of one kind (pods, secrets, services) in a namespace, or in all. */
export async function managedNames(
  emulator: ApiTarget,
  resource = 'pods',
  namespace?: string,
): Promise<string[]> {
  const scope = namespace ? `/namespaces/${namespace}` : '';
  const list = (
    await apiRequest(
      emulator,
      'GET',
      `/api/v1${scope}/${resource}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dpod-runner`,
    )
  ).body as { items: { metadata: { name: string } }[] };
  return list.items.map((item) => item.metadata.name);
}

export function managedPodNames(emulator: ApiTarget): Promise<string[]> {
  return managedNames(emulator);
}
