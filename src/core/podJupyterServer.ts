import { randomBytes, randomUUID } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { deleteIfPresent } from './apiRetry.ts';
import { ExecutorStateError, OptionError, SpecError } from './errors.ts';
import { executorContainerName, validateWorkspacePath } from './executorPod.ts';
import type { PodJupyterConnectionInfo } from './jupyterConnection.ts';
import { loadClusterTarget, type ClusterTarget } from './kubeconfig.ts';
import { translateApiError } from './kubernetesErrors.ts';
import type { WebSocketFactory } from './kubernetesWebSocket.ts';
import { silentLogger, type Logger } from './logger.ts';
import { PodExecClient } from './podExec.ts';
import { instanceLabel, jupyterServerLabel, managedByLabel, managedByValue } from './podLabels.ts';
import { PodLauncher, type StartOptions } from './podLauncher.ts';
import type { PodTerminal, TerminalOptions } from './podTerminal.ts';
import { PortForwarder } from './portForwarder.ts';
import { checkPermissions, jupyterServerPermissions } from './preflight.ts';
import { loadSpec, type JsonObject, type SpecInput } from './specLoader.ts';

export { jupyterServerLabel } from './podLabels.ts';
export const defaultJupyterImage = 'quay.io/jupyter/docker-stacks-foundation';
/** The seed's command, with `exec` so the gateway is PID 1 and stops promptly on SIGTERM. */
export const defaultJupyterCommand = [
  '/bin/bash',
  '-o',
  'pipefail',
  '-c',
  'mamba install --yes jupyter_kernel_gateway ipykernel && mamba clean --all -f -y && fix-permissions "${CONDA_DIR}" && fix-permissions "/home/${NB_USER}"; exec python -m jupyter kernelgateway --KernelGatewayApp.ip=0.0.0.0 --JupyterApp.answer_yes=true --JupyterWebsocketPersonality.list_kernels=true',
];

export interface PodJupyterServerOptions {
  kubeconfig?: string | KubeConfig;
  context?: string;
  namespace?: string;
  /** Default quay.io/jupyter/docker-stacks-foundation (the README recommends a prebuilt gateway image). */
  image?: string;
  /** Default "autogen-jupyter-<uuid>"; at most 56 characters so "<name>-secret" fits. */
  podName?: string;
  /** Default: install the kernel gateway, then start it. `null`: the image's own command. */
  command?: string[] | null;
  args?: string[];
  /** Seconds to wait for the pod to be ready; default 300. */
  startupTimeout?: number;
  workspacePath?: string;
  volume?: SpecInput;
  podSpec?: SpecInput;
  serviceSpec?: SpecInput;
  secretSpec?: SpecInput;
  /** Delete the pod, secret and service on stop(); default true. */
  autoRemove?: boolean;
  /** Extra labels for the pod, secret and service (Pod Runner's own labels take precedence). */
  labels?: Record<string, string>;
  /** The gateway's port in the pod; default 8888. */
  port?: number;
  /** Default: 32 random bytes as hex. "" disables authentication (no Secret). */
  token?: string;
  logger?: Logger;
  /** Opens the Kubernetes WebSockets (port-forward, terminals); for tests. */
  webSocketFactory?: WebSocketFactory;
}

const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

type JupyterServerManifests = {
  pod: JsonObject;
  secret: JsonObject | undefined;
  service: JsonObject;
};

/** The names of what one start created (and so what stop() deletes). */
interface CreatedObjects {
  pod?: string;
  secret?: string;
  service?: string;
}

interface ServerSession {
  target: ClusterTarget;
  core: CoreV1Api;
  launcher: PodLauncher;
  exec: PodExecClient;
  manifests: JupyterServerManifests;
  created: CreatedObjects;
  forwarder: PortForwarder | undefined;
}

/**
 * A Jupyter kernel gateway in a pod, with its Secret (KG_AUTH_TOKEN) and Service, reachable from
 * outside the cluster through a port-forward on 127.0.0.1.
 */
export class PodJupyterServer implements AsyncDisposable {
  readonly podName: string;
  readonly port: number;
  private token: string;
  private readonly logger: Logger;
  private readonly autoRemove: boolean;
  private session: ServerSession | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: PodJupyterServerOptions = {}) {
    this.podName = options.podName ?? `autogen-jupyter-${randomUUID()}`;
    if (!/^[a-z0-9]([-a-z0-9]{0,54}[a-z0-9])?$/.test(this.podName)) {
      throw new OptionError(
        'podName',
        `"${this.podName}" is not valid: use at most 56 lower-case letters, digits and '-', starting and ending with a letter or digit`,
      );
    }
    this.port = options.port ?? 8888;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535) {
      throw new OptionError(
        'port',
        `must be a port number from 1 to 65535, got ${String(options.port)}`,
      );
    }
    validateWorkspacePath(options.workspacePath ?? '/workspace');
    this.token = options.token ?? randomBytes(32).toString('hex');
    this.logger = options.logger ?? silentLogger;
    this.autoRemove = options.autoRemove ?? true;
  }

  /** The namespace the gateway runs in (known once started, or when given). */
  get namespace(): string | undefined {
    return this.session?.target.namespace ?? (this.options.namespace || undefined);
  }

  get isRunning(): boolean {
    return this.session !== undefined;
  }

  /** The in-cluster address (Service FQDN), as the seed gives it. */
  get connectionInfo(): PodJupyterConnectionInfo {
    const service = this.session
      ? String((this.session.manifests.service.metadata as JsonObject).name)
      : this.podName;
    return {
      host: `${service}.${this.namespace ?? 'default'}.svc.cluster.local`,
      port: this.port,
      ...(this.token ? { token: this.token } : {}),
    };
  }

  /** Creates the Secret, Pod and Service and waits until the pod is ready; concurrent calls share one start. */
  start(options: StartOptions = {}): Promise<void> {
    if (this.session) {
      return Promise.resolve();
    }
    this.starting ??= this.doStart(options).finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async doStart(options: StartOptions): Promise<void> {
    options.signal?.throwIfAborted();
    const target = loadClusterTarget({
      ...(this.options.kubeconfig !== undefined ? { kubeconfig: this.options.kubeconfig } : {}),
      ...(this.options.context !== undefined ? { context: this.options.context } : {}),
      ...(this.options.namespace ? { namespace: this.options.namespace } : {}),
    });
    const { namespace } = target;
    const core = target.kubeConfig.makeApiClient(CoreV1Api);
    const launcher = new PodLauncher({
      kubeConfig: target.kubeConfig,
      core,
      namespace,
      logger: this.logger,
    });
    const manifests = this.manifestsFor(namespace);
    const secretManifest = manifests.secret;
    await checkPermissions(
      target.kubeConfig,
      namespace,
      secretManifest
        ? jupyterServerPermissions
        : jupyterServerPermissions.filter((p) => p.resource !== 'secrets'),
      this.logger,
    );
    const created: CreatedObjects = {};
    try {
      if (secretManifest) {
        created.secret = await this.getOrCreate('secret', secretManifest, () =>
          core.createNamespacedSecret({ namespace, body: secretManifest }),
        );
      }
      created.pod = await this.getOrCreate('pod', manifests.pod, () =>
        launcher.create(manifests.pod),
      );
      created.service = await this.getOrCreate('service', manifests.service, () =>
        core.createNamespacedService({ namespace, body: manifests.service }),
      );
      await launcher.waitUntilReady(
        String((manifests.pod.metadata as JsonObject).name),
        (this.options.startupTimeout ?? 300) * 1000,
        options,
      );
    } catch (error) {
      await this.removeCreated(core, launcher, namespace, created);
      throw error;
    }
    const exec = new PodExecClient(target.kubeConfig, {
      ...(this.options.webSocketFactory ? { webSocketFactory: this.options.webSocketFactory } : {}),
    });
    this.session = { target, core, launcher, exec, manifests, created, forwarder: undefined };
    this.logger.info(
      `Jupyter gateway pod ${namespace}/${String((manifests.pod.metadata as JsonObject).name)} is ready`,
    );
  }

  /** An interactive shell (tty) in the gateway container; `/bin/sh` unless a command is given. */
  async openTerminal(options: TerminalOptions = {}): Promise<PodTerminal> {
    const session = this.requireSession();
    const containers = (session.manifests.pod.spec as JsonObject).containers as JsonObject[];
    return session.exec.openTerminal({
      ...options,
      namespace: session.target.namespace,
      pod: this.podName,
      container: String(containers[0]?.name),
      command: options.command ?? ['/bin/sh'],
    });
  }

  /** The gateway container's log (its last `tailLines` lines when given). */
  async readLogs(tailLines?: number): Promise<string> {
    return this.requireSession().launcher.readLogs(this.podName, tailLines);
  }

  /** Port-forwards to the gateway (once; the same local port afterwards) and returns where to reach it. */
  async connect(): Promise<PodJupyterConnectionInfo> {
    const session = this.requireSession();
    session.forwarder ??= new PortForwarder({
      kubeConfig: session.target.kubeConfig,
      namespace: session.target.namespace,
      pod: String((session.manifests.pod.metadata as JsonObject).name),
      remotePort: this.port,
      logger: this.logger,
      ...(this.options.webSocketFactory ? { webSocketFactory: this.options.webSocketFactory } : {}),
    });
    const localPort = await session.forwarder.start();
    return { host: '127.0.0.1', port: localPort, ...(this.token ? { token: this.token } : {}) };
  }

  /** Closes the port-forward and deletes what this server created (when autoRemove), waiting for the pod; start() may follow. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const session = this.session;
    this.session = undefined;
    if (!session) {
      return;
    }
    await session.forwarder?.stop();
    if (this.autoRemove) {
      await this.removeCreated(
        session.core,
        session.launcher,
        session.target.namespace,
        session.created,
      );
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private requireSession(): ServerSession {
    if (!this.session) {
      throw new ExecutorStateError('the Jupyter server is not running: call start() first');
    }
    return this.session;
  }

  private async getOrCreate(
    kind: 'pod' | 'secret' | 'service',
    manifest: JsonObject,
    create: () => Promise<unknown>,
  ): Promise<string | undefined> {
    const name = String((manifest.metadata as JsonObject).name);
    try {
      await create();
      return name;
    } catch (error) {
      const translated = translateApiError(error, `create ${kind} ${name}`);
      if ('statusCode' in translated && translated.statusCode === 409 && !this.autoRemove) {
        this.logger.info(`reusing existing ${kind} ${name}`);
        return undefined;
      }
      throw translated;
    }
  }

  /** Deletes what one start created; failures are logged, not thrown (cleanup is best effort). */
  private async removeCreated(
    core: CoreV1Api,
    launcher: PodLauncher,
    namespace: string,
    { pod, secret, service }: CreatedObjects,
  ): Promise<void> {
    const logFailure = (error: unknown) =>
      this.logger.error(
        `cleanup failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    await Promise.all([
      pod ? launcher.deleteAndWait(pod).catch(logFailure) : undefined,
      service
        ? deleteIfPresent(`delete service ${service}`, () =>
            core.deleteNamespacedService({ namespace, name: service }),
          ).catch(logFailure)
        : undefined,
      secret
        ? deleteIfPresent(`delete secret ${secret}`, () =>
            core.deleteNamespacedSecret({ namespace, name: secret }),
          ).catch(logFailure)
        : undefined,
    ]);
  }

  /** The Pod, Secret and Service this server creates in `namespace` (nothing is sent). */
  manifestsFor(namespace: string): JupyterServerManifests {
    const labels = {
      ...this.options.labels,
      [jupyterServerLabel]: this.podName,
      [managedByLabel]: managedByValue,
      [instanceLabel]: randomUUID(),
    };
    const metadata = (name: string) => ({ name, namespace, labels });
    let secret: JsonObject | undefined;
    if (this.options.secretSpec !== undefined) {
      const loaded = loadSpec(this.options.secretSpec, 'Secret', 'secretSpec');
      const data = (loaded.spec.data ?? {}) as Record<string, string>;
      const stringData = (loaded.spec.stringData ?? {}) as Record<string, string>;
      const token =
        stringData.KG_AUTH_TOKEN ??
        (data.KG_AUTH_TOKEN
          ? Buffer.from(data.KG_AUTH_TOKEN, 'base64').toString('utf8')
          : undefined);
      if (token === undefined) {
        throw new SpecError(
          `secretSpec: ${loaded.source} has no data or stringData KG_AUTH_TOKEN`,
          loaded.source,
          'data.KG_AUTH_TOKEN',
        );
      }
      this.token = token;
      const specMetadata = isObject(loaded.spec.metadata) ? loaded.spec.metadata : {};
      secret = {
        ...loaded.spec,
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          ...specMetadata,
          name: specMetadata.name ?? `${this.podName}-secret`,
          namespace,
          labels: { ...(isObject(specMetadata.labels) ? specMetadata.labels : {}), ...labels },
        },
      };
    } else if (this.token) {
      secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: metadata(`${this.podName}-secret`),
        stringData: { KG_AUTH_TOKEN: this.token },
      };
    }
    const secretName = secret ? String((secret.metadata as JsonObject).name) : undefined;
    const pod = this.buildPod(namespace, labels, secretName);
    const service = this.buildService(namespace, labels);
    return { pod, secret, service };
  }

  private buildPod(
    namespace: string,
    labels: Record<string, string>,
    secretName: string | undefined,
  ): JsonObject {
    const workspace = this.options.workspacePath ?? '/workspace';
    const volume =
      this.options.volume === undefined
        ? undefined
        : loadSpec(this.options.volume, 'Volume', 'volume').spec;
    const env = [
      { name: 'KG_PORT', value: String(this.port) },
      { name: 'KG_IP', value: '0.0.0.0' },
      { name: 'KG_LIST_KERNELS', value: 'True' },
    ];
    const fill = (container: JsonObject): JsonObject => {
      const filled: JsonObject = { ...container };
      filled.image ??= this.options.image ?? defaultJupyterImage;
      const ports = Array.isArray(filled.ports) ? [...(filled.ports as JsonObject[])] : [];
      if (!ports.some((p) => p.name === 'jupyter')) {
        ports.push({ name: 'jupyter', containerPort: this.port });
      }
      filled.ports = ports;
      const existingEnv = Array.isArray(filled.env) ? [...(filled.env as JsonObject[])] : [];
      for (const variable of env) {
        if (!existingEnv.some((e) => e.name === variable.name)) {
          existingEnv.push(variable);
        }
      }
      filled.env = existingEnv;
      if (secretName) {
        // Always the Secret actually created (the seed could reference another name).
        const others = (
          Array.isArray(filled.envFrom) ? (filled.envFrom as JsonObject[]) : []
        ).filter((e) => !(isObject(e.secretRef) && String(e.secretRef.name).endsWith('-secret')));
        filled.envFrom = [...others, { secretRef: { name: secretName } }];
      }
      filled.readinessProbe ??= {
        tcpSocket: { port: this.port },
        periodSeconds: 1,
        failureThreshold: 3,
      };
      if (volume) {
        const mounts = Array.isArray(filled.volumeMounts)
          ? [...(filled.volumeMounts as JsonObject[])]
          : [];
        if (!mounts.some((m) => m.name === volume.name)) {
          mounts.push({ name: volume.name, mountPath: workspace });
        }
        filled.volumeMounts = mounts;
      }
      return filled;
    };
    const defaultContainer: JsonObject = {
      name: executorContainerName,
      image: this.options.image ?? defaultJupyterImage,
      ...(this.options.command === null
        ? {}
        : { command: this.options.command ?? defaultJupyterCommand }),
      ...(this.options.args ? { args: this.options.args } : {}),
      workingDir: workspace,
    };
    let pod: JsonObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: this.podName, namespace, labels },
      spec: { containers: [defaultContainer] },
    };
    if (this.options.podSpec !== undefined) {
      const loaded = loadSpec(this.options.podSpec, 'Pod', 'podSpec');
      const specMetadata = isObject(loaded.spec.metadata) ? loaded.spec.metadata : {};
      const spec = isObject(loaded.spec.spec) ? { ...loaded.spec.spec } : {};
      const containers = Array.isArray(spec.containers) ? (spec.containers as JsonObject[]) : [];
      if (!containers.some((c) => isObject(c) && c.name === executorContainerName)) {
        containers.push(defaultContainer);
      }
      pod = {
        ...loaded.spec,
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          ...specMetadata,
          name: specMetadata.name ?? this.podName,
          namespace,
          labels: { ...(isObject(specMetadata.labels) ? specMetadata.labels : {}), ...labels },
        },
        spec: { ...spec, containers },
      };
    }
    const spec = pod.spec as JsonObject;
    spec.automountServiceAccountToken ??= false;
    spec.terminationGracePeriodSeconds ??= 10;
    spec.containers = (spec.containers as JsonObject[]).map((c) =>
      c.name === executorContainerName ? fill(c) : c,
    );
    if (volume) {
      const volumes = Array.isArray(spec.volumes) ? [...(spec.volumes as JsonObject[])] : [];
      if (!volumes.some((v) => v.name === volume.name)) {
        volumes.push(volume);
      }
      spec.volumes = volumes;
    }
    return pod;
  }

  private buildService(namespace: string, labels: Record<string, string>): JsonObject {
    const port = { name: 'jupyter', protocol: 'TCP', port: this.port, targetPort: 'jupyter' };
    const selector = { [jupyterServerLabel]: this.podName };
    if (this.options.serviceSpec === undefined) {
      return {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: this.podName, namespace, labels },
        spec: { type: 'ClusterIP', selector, ports: [port] },
      };
    }
    const loaded = loadSpec(this.options.serviceSpec, 'Service', 'serviceSpec');
    const specMetadata = isObject(loaded.spec.metadata) ? loaded.spec.metadata : {};
    const spec = isObject(loaded.spec.spec) ? { ...loaded.spec.spec } : {};
    const ports = Array.isArray(spec.ports) ? [...(spec.ports as JsonObject[])] : [];
    if (!ports.some((p) => p.name === 'jupyter')) {
      ports.push(port);
    }
    return {
      ...loaded.spec,
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        ...specMetadata,
        name: specMetadata.name ?? this.podName,
        namespace,
        labels: { ...(isObject(specMetadata.labels) ? specMetadata.labels : {}), ...labels },
      },
      spec: {
        type: 'ClusterIP',
        ...spec,
        selector: { ...(isObject(spec.selector) ? spec.selector : {}), ...selector },
        ports,
      },
    };
  }
}
