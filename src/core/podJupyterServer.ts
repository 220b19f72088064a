import { randomBytes, randomUUID } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { deleteIfPresent } from './apiRetry.ts';
import { ExecutorStateError, OptionError } from './errors.ts';
import { validateWorkspacePath } from './executorPod.ts';
import type { PodJupyterConnectionInfo } from './jupyterConnection.ts';
import {
  buildJupyterServerManifests,
  type JupyterServerManifests,
  type JupyterServerSpecOptions,
} from './jupyterServerManifests.ts';
import { loadClusterTarget, type ClusterTarget } from './kubeconfig.ts';
import { translateApiError } from './kubernetesErrors.ts';
import type { WebSocketFactory } from './kubernetesWebSocket.ts';
import { silentLogger, type Logger } from './logger.ts';
import { PodExecClient } from './podExec.ts';
import { PodLauncher, type StartOptions } from './podLauncher.ts';
import type { PodTerminal, TerminalOptions } from './podTerminal.ts';
import { PortForwarder } from './portForwarder.ts';
import { checkPermissions, jupyterServerPermissions } from './preflight.ts';
import type { JsonObject } from './specLoader.ts';

export { defaultJupyterCommand, defaultJupyterImage } from './jupyterServerManifests.ts';
export { jupyterServerLabel } from './podLabels.ts';

export interface PodJupyterServerOptions extends JupyterServerSpecOptions {
  kubeconfig?: string | KubeConfig;
  context?: string;
  namespace?: string;
  /** Default "autogen-jupyter-<uuid>"; at most 56 characters so "<name>-secret" fits. */
  podName?: string;
  /** Seconds to wait for the pod to be ready; default 300. */
  startupTimeout?: number;
  /** Delete the pod, secret and service on stop(); default true. */
  autoRemove?: boolean;
  /** The gateway's port in the pod; default 8888. */
  port?: number;
  /** Default: 32 random bytes as hex. "" disables authentication (no Secret). */
  token?: string;
  logger?: Logger;
  /** Opens the Kubernetes WebSockets (port-forward, terminals); for tests. */
  webSocketFactory?: WebSocketFactory;
}

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
    const { manifests, token } = buildJupyterServerManifests(
      this.options,
      { podName: this.podName, port: this.port, token: this.token },
      namespace,
    );
    this.token = token;
    return manifests;
  }
}
