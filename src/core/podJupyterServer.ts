import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { deleteIfPresent, makeApiClient } from './apiRetry.ts';
import { ExecutorStateError, OptionError } from './errors.ts';
import { validateWorkspacePath } from './executorPod.ts';
import { resolvePodName } from './gatewayPodName.ts';
import { findReplacingEnded, idleTimeoutSeconds, removeIfEnded, type OwnPod } from './idleStop.ts';
import type { PodJupyterConnectionInfo } from './jupyterConnection.ts';
import {
  adoptedToken,
  buildJupyterServerManifests,
  type JupyterServerAccess,
  type JupyterServerManifests,
  type JupyterServerSpecOptions,
} from './jupyterServerManifests.ts';
import { loadClusterTarget, type ClusterTarget } from './kubeconfig.ts';
import { translateApiError } from './kubernetesErrors.ts';
import { GatewayKernelRecords } from './notebookKernels.ts';
import type { WebSocketFactory } from './kubernetesWebSocket.ts';
import { silentLogger, type Logger } from './logger.ts';
import { jupyterServerLabel, managedByLabel, managedByValue } from './podLabels.ts';
import { PodExecClient } from './podExec.ts';
import { PodLauncher, type StartOptions } from './podLauncher.ts';
import type { PodTerminal, TerminalOptions } from './podTerminal.ts';
import { PortForwarder, type PortForwardState } from './portForwarder.ts';
import { checkPermissions, jupyterServerPermissions } from './preflight.ts';
import type { JsonObject } from './specLoader.ts';
import type {
  DownloadOptions,
  DownloadResult,
  SyncOptions,
  SyncResult,
} from './workspaceSync/types.ts';
import { WorkspaceSyncSlot, type PodTarget } from './workspaceSync/index.ts';

export {
  defaultJupyterCommand,
  defaultJupyterImage,
  type JupyterServerAccess,
} from './jupyterServerManifests.ts';

export interface PodJupyterServerOptions extends JupyterServerSpecOptions {
  kubeconfig?: string | KubeConfig;
  context?: string;
  namespace?: string;
  /**
   * Default: the podSpec's metadata.name, else "autogen-jupyter-<uuid>"; at most 56 characters so
   * "<name>-secret" fits.
   */
  podName?: string;
  /** Seconds to wait for the pod to be ready; default 300. */
  startupTimeout?: number;
  /**
   * Whether disposal (`await using`, [Symbol.asyncDispose]) deletes the pod, secret and service;
   * default true. With false they are left running, and a later server of the same podName adopts
   * them (only if they carry Pod Runner's labels for that gateway). stop() always deletes.
   */
  autoRemove?: boolean;
  /** The gateway's port in the pod; default 8888. */
  port?: number;
  /** Default: 32 random bytes as hex. "" disables authentication (no Secret). */
  token?: string;
  logger?: Logger;
  /** Opens the Kubernetes WebSockets (port-forward, terminals); for tests. */
  webSocketFactory?: WebSocketFactory;
  /** The port-forward's state as it changes: `reconnecting` while the cluster is unreachable. */
  onConnectionState?: (state: PortForwardState, podGone?: Error) => void;
}

/** The names of a gateway's objects: those one start created, or all it uses. */
interface GatewayObjects {
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
  /** What stop() deletes: the objects created or adopted. */
  used: GatewayObjects;
  forwarder: PortForwarder | undefined;
}

/**
 * A Jupyter kernel gateway in a pod, with its Secret (KG_AUTH_TOKEN) and Service, reachable from
 * outside the cluster through a port-forward on 127.0.0.1.
 */
export class PodJupyterServer implements AsyncDisposable {
  /** The name of the gateway's pod as created (a podSpec's metadata.name when it has one). */
  readonly podName: string;
  readonly port: number;
  readonly access: JupyterServerAccess;
  private token: string;
  private readonly logger: Logger;
  private readonly autoRemove: boolean;
  private session: ServerSession | undefined;
  private starting: Promise<void> | undefined;
  private readonly workspace = new WorkspaceSyncSlot(() => ({
    target: gatewayTarget(this.requireSession(), this.podName),
    workspacePath: this.options.workspacePath ?? '/workspace',
  }));

  constructor(private readonly options: PodJupyterServerOptions = {}) {
    this.access = options.access ?? 'portForward';
    if (options.serviceSpec !== undefined && this.access !== 'inCluster') {
      throw new OptionError(
        'serviceSpec',
        "a Service is created only with access: 'inCluster' (a port-forwarded gateway has none)",
      );
    }
    this.podName = resolvePodName(options);
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

  /** The in-cluster address (Service FQDN), as the seed gives it; only with `access: 'inCluster'`. */
  get connectionInfo(): PodJupyterConnectionInfo {
    if (this.access !== 'inCluster') {
      throw new ExecutorStateError(
        "the gateway has no in-cluster address (access: 'portForward'): use connect()",
      );
    }
    const service = this.session?.manifests.service
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
    const core = makeApiClient(target.kubeConfig, CoreV1Api);
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
      jupyterServerPermissions.filter(
        (p) =>
          (secretManifest || p.resource !== 'secrets') &&
          (manifests.service || p.resource !== 'services'),
      ),
      this.logger,
    );
    const created: GatewayObjects = {};
    const used: GatewayObjects = {};
    const place = async (
      kind: keyof GatewayObjects,
      manifest: JsonObject,
      create: () => Promise<unknown>,
      read: (name: string) => Promise<{ metadata?: { labels?: Record<string, string> } }>,
    ) => {
      const name = String((manifest.metadata as JsonObject).name);
      const adopted = await this.createOrAdopt(kind, name, namespace, create, read);
      used[kind] = name;
      if (!adopted) {
        created[kind] = name;
      }
      return adopted;
    };
    try {
      if (secretManifest) {
        const adopted = await place(
          'secret',
          secretManifest,
          () => core.createNamespacedSecret({ namespace, body: secretManifest }),
          (name) => core.readNamespacedSecret({ namespace, name }),
        );
        if (adopted) {
          this.token = adoptedToken(adopted as { data?: Record<string, string> }, namespace);
        }
      }
      await findReplacingEnded(this.ownPod(launcher), options.onProgress);
      await place(
        'pod',
        manifests.pod,
        () => launcher.create(manifests.pod),
        (name) => core.readNamespacedPod({ namespace, name }),
      );
      const service = manifests.service;
      if (service) {
        await place(
          'service',
          service,
          () => core.createNamespacedService({ namespace, body: service }),
          (name) => core.readNamespacedService({ namespace, name }),
        );
      }
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
    this.session = { target, core, launcher, exec, manifests, used, forwarder: undefined };
    this.logger.info(
      `Jupyter gateway pod ${namespace}/${String((manifests.pod.metadata as JsonObject).name)} is ready`,
    );
  }

  /** An interactive shell (tty) in the gateway container; `/bin/sh` unless a command is given. */
  async openTerminal(options: TerminalOptions = {}): Promise<PodTerminal> {
    const session = this.requireSession();
    return session.exec.openTerminal({
      ...options,
      namespace: session.target.namespace,
      pod: this.podName,
      container: gatewayTarget(session, this.podName).container,
      command: options.command ?? ['/bin/sh'],
    });
  }

  /** Mirrors a local folder into the gateway's pod, as PodCommandLineCodeExecutor.syncWorkspace. */
  syncWorkspace(localDir: string, options?: SyncOptions): Promise<SyncResult> {
    return this.workspace.current().sync(localDir, options);
  }

  /** Copies a file or folder from the gateway's pod into a local folder. */
  downloadFromPod(
    remotePath: string,
    localDir: string,
    options?: DownloadOptions,
  ): Promise<DownloadResult> {
    return this.workspace.current().download(remotePath, localDir, options);
  }

  /** The folders synced to the current gateway pod (none after stop). */
  get syncedFolders(): WorkspaceSyncSlot['folders'] {
    return this.workspace.folders;
  }

  /** Deletes a gateway pod that stopped by itself (idle), with its Secret and Service; says why. */
  removeIfEnded(): Promise<string | undefined> {
    return removeIfEnded(this.ownPod(this.requireSession().launcher), () => this.stop());
  }

  private ownPod(launcher: PodLauncher): OwnPod {
    const idleSeconds = idleTimeoutSeconds(this.options.idleTimeoutMinutes);
    return { launcher, name: this.podName, idleSeconds, logger: this.logger };
  }

  /** Each notebook's kernel, as recorded on the gateway pod. */
  get notebookKernels(): GatewayKernelRecords {
    const session = this.requireSession();
    return new GatewayKernelRecords(session.core, session.target.namespace, this.podName);
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
      podLookup: session.launcher,
      ...(this.options.onConnectionState ? { onStateChange: this.options.onConnectionState } : {}),
      ...(this.options.webSocketFactory ? { webSocketFactory: this.options.webSocketFactory } : {}),
    });
    const forwarder = session.forwarder;
    const localPort = await forwarder.start();
    return {
      host: '127.0.0.1',
      port: localPort,
      ...(this.token ? { token: this.token } : {}),
      permanentFailure: () => forwarder.podGone,
    };
  }

  /**
   * Closes the port-forward and deletes the gateway's pod, secret and service (created or
   * adopted), waiting for the pod; start() may follow.
   */
  async stop(): Promise<void> {
    const session = await this.endSession();
    if (session) {
      await this.removeCreated(
        session.core,
        session.launcher,
        session.target.namespace,
        session.used,
      );
    }
  }

  /** stop() when autoRemove (the default); otherwise closes the port-forward and leaves the gateway running. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.autoRemove) {
      await this.stop();
      return;
    }
    const session = await this.endSession();
    if (session) {
      this.logger.info(
        `leaving the Jupyter gateway pod ${session.target.namespace}/${this.podName} running`,
      );
    }
  }

  private async endSession(): Promise<ServerSession | undefined> {
    await this.starting?.catch(() => undefined);
    const session = this.session;
    this.session = undefined;
    this.workspace.clear();
    await session?.forwarder?.stop();
    return session;
  }

  private requireSession(): ServerSession {
    if (!this.session) {
      throw new ExecutorStateError('the Jupyter server is not running: call start() first');
    }
    return this.session;
  }

  /**
   * Creates an object; with autoRemove false, one of the same name already there is adopted
   * (and returned) if Pod Runner created it for this gateway, and refused otherwise.
   */
  private async createOrAdopt<Existing extends { metadata?: { labels?: Record<string, string> } }>(
    kind: keyof GatewayObjects,
    name: string,
    namespace: string,
    create: () => Promise<unknown>,
    read: (name: string) => Promise<Existing>,
  ): Promise<Existing | undefined> {
    try {
      await create();
      return undefined;
    } catch (error) {
      const translated = translateApiError(error, `create ${kind} ${name}`);
      if (!('statusCode' in translated) || translated.statusCode !== 409 || this.autoRemove) {
        throw translated;
      }
    }
    const existing = await read(name).catch((error: unknown) => {
      throw translateApiError(error, `read ${kind} ${name}`);
    });
    const labels = existing.metadata?.labels ?? {};
    if (labels[managedByLabel] !== managedByValue || labels[jupyterServerLabel] !== this.podName) {
      throw new ExecutorStateError(
        `${kind} ${namespace}/${name} already exists and was not created by Pod Runner for this gateway; choose another podName`,
      );
    }
    this.logger.info(`reusing existing ${kind} ${namespace}/${name}`);
    return existing;
  }

  /** Deletes what one start created; failures are logged, not thrown (cleanup is best effort). */
  private async removeCreated(
    core: CoreV1Api,
    launcher: PodLauncher,
    namespace: string,
    { pod, secret, service }: GatewayObjects,
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
    const { manifests, token } = buildJupyterServerManifests(
      this.options,
      { podName: this.podName, port: this.port, token: this.token },
      namespace,
    );
    this.token = token;
    return manifests;
  }
}

/** Where execs into the gateway go: the pod's first container. */
function gatewayTarget(session: ServerSession, pod: string): PodTarget {
  const containers = (session.manifests.pod.spec as JsonObject).containers as JsonObject[];
  const container = String(containers[0]?.name);
  return { exec: session.exec, namespace: session.target.namespace, pod, container };
}
