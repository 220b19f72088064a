import { Writable, type Readable } from 'node:stream';
import { CoreV1Api, Exec, KubeConfig, type V1Pod, type V1Status } from '@kubernetes/client-node';
import type { RunningEmulator } from '../emulator/index.ts';
import { eventually } from './emulatorFixture.ts';

/** client-node objects for an emulator or a cluster, and the pod chores the conformance tests repeat. */
export class PodClient {
  readonly config = new KubeConfig();
  readonly core: CoreV1Api;

  constructor(backend: Pick<RunningEmulator, 'kubeconfigPath'>, context?: string) {
    this.config.loadFromFile(backend.kubeconfigPath);
    if (context) {
      this.config.setCurrentContext(context);
    }
    this.core = this.config.makeApiClient(CoreV1Api);
  }

  async create(pod: V1Pod, namespace = 'default'): Promise<V1Pod> {
    return this.core.createNamespacedPod({ namespace, body: pod });
  }

  read(name: string, namespace = 'default'): Promise<V1Pod> {
    return this.core.readNamespacedPod({ namespace, name });
  }

  /** Waits until `predicate` holds for the pod and returns it. */
  waitFor(
    name: string,
    predicate: (pod: V1Pod) => boolean,
    what: string,
    timeoutMs = 20_000,
    namespace = 'default',
  ): Promise<V1Pod> {
    return eventually(
      async () => {
        const pod = await this.read(name, namespace);
        return predicate(pod) ? pod : undefined;
      },
      timeoutMs,
      `${name}: ${what}`,
    );
  }

  waitReady(name: string, namespace = 'default'): Promise<V1Pod> {
    return this.waitFor(
      name,
      (pod) =>
        pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      'Ready',
      20_000,
      namespace,
    );
  }

  /** Creates a one-container pod running `sh -c script` and waits until it is Ready. */
  async run(
    name: string,
    script: string,
    options: { image?: string; grace?: number; spec?: Partial<NonNullable<V1Pod['spec']>> } = {},
  ): Promise<V1Pod> {
    await this.create({
      metadata: { name },
      spec: {
        terminationGracePeriodSeconds: options.grace ?? 1,
        containers: [
          { name: 'main', image: options.image ?? 'python:3-slim', command: ['sh', '-c', script] },
        ],
        ...options.spec,
      },
    });
    return this.waitReady(name);
  }

  async delete(name: string, namespace = 'default', gracePeriodSeconds?: number): Promise<void> {
    await this.core.deleteNamespacedPod({
      namespace,
      name,
      ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
    });
  }

  /** Waits until the pod is gone from the API. */
  async waitGone(name: string, namespace = 'default', timeoutMs = 20_000): Promise<void> {
    await eventually(
      async () => {
        try {
          await this.read(name, namespace);
          return undefined;
        } catch {
          return true;
        }
      },
      timeoutMs,
      `${name} deleted`,
    );
  }

  /** Runs a command through pods/exec and collects its output and status. */
  exec(
    name: string,
    command: string[],
    options: { stdin?: Readable; container?: string; tty?: boolean } = {},
  ): Promise<{ stdout: string; stderr: string; status: V1Status }> {
    return new Promise((resolve, reject) => {
      const stdout = textSink();
      const stderr = textSink();
      new Exec(this.config)
        .exec(
          'default',
          name,
          options.container ?? 'main',
          command,
          stdout,
          stderr,
          options.stdin ?? null,
          options.tty ?? false,
          (status) => resolve({ stdout: stdout.text(), stderr: stderr.text(), status }),
        )
        .catch(reject);
    });
  }

  async events(
    name: string,
    namespace = 'default',
  ): Promise<{ reason: string; message: string; type: string }[]> {
    const list = await this.core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return list.items.map((event) => ({
      reason: event.reason ?? '',
      message: event.message ?? '',
      type: event.type ?? '',
    }));
  }
}

export function textSink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString() });
}

/**
 * A shell command printing how many processes in the pod have `pattern` (a grep pattern) in their
 * command line. It reads /proc: a slim image (python:3-slim) has no `ps`.
 */
export function processCountScript(pattern: string): string {
  // stderr goes first: a process gone between the glob and the read is no error.
  return `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' 2>/dev/null < "$f"; echo; done | grep -c "${pattern}" || true`;
}
