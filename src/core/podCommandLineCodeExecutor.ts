import { randomUUID } from 'node:crypto';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { makeApiClient } from './apiRetry.ts';
import {
  cancelledText,
  setUpFunctions,
  type ExecuteOptions,
  type ExecutorContainer,
} from './codeBlockRun.ts';
import type { CodeBlock, CommandLineCodeResult } from './codeBlocks.ts';
import {
  validatedLimits,
  type PodCommandLineCodeExecutorOptions,
} from './commandLineExecutorOptions.ts';
import { ExecutorStateError, OptionError, PodGoneError, PodStoppedError } from './errors.ts';
import { ExecutorConnection } from './executorConnection.ts';
import { runSyncedFile, type RunFileOptions } from './fileRun.ts';
import {
  buildExecutorPod,
  executorContainerName,
  validateWorkspacePath,
  type ExecutorPodManifest,
} from './executorPod.ts';
import type { FunctionWithRequirements } from './functions.ts';
import * as idle from './idleStop.ts';
import { loadClusterTarget, type ClusterTarget } from './kubeconfig.ts';
import { silentLogger, type Logger } from './logger.ts';
import { PodExecClient } from './podExec.ts';
import { resultMappings } from './pathMapping.ts';
import { managedByLabel, managedByValue } from './podLabels.ts';
import { PodLauncher, type StartOptions } from './podLauncher.ts';
import type { PodTerminal, TerminalOptions } from './podTerminal.ts';
import { checkPermissions, executorPermissions } from './preflight.ts';
import type { JsonObject } from './specLoader.ts';
import { WarmRuntime } from './warmRuntime/warmRuntime.ts';
import {
  WorkspaceSyncSlot,
  type DownloadOptions,
  type DownloadResult,
  type SyncedFolder,
  type SyncOptions,
  type SyncResult,
} from './workspaceSync/index.ts';

export type { ExecuteOptions } from './codeBlockRun.ts';
export type { RunFileOptions } from './fileRun.ts';
export type { PodCommandLineCodeExecutorOptions } from './commandLineExecutorOptions.ts';

interface Session {
  target: ClusterTarget;
  exec: PodExecClient;
  launcher: PodLauncher;
  connection: ExecutorConnection;
  warm: WarmRuntime;
}

/**
 * Runs code blocks in a long-lived pod through pods/exec: each block's code goes in on stdin,
 * runs under a timeout, everything it starts is killed when it ends, and its output streams back.
 */
export class PodCommandLineCodeExecutor implements AsyncDisposable {
  readonly timeout: number;
  readonly startupTimeout: number;
  readonly workspacePath: string;
  readonly functionsModule: string;
  private readonly manifest: ExecutorPodManifest;
  private readonly autoRemove: boolean;
  /** The pod stops by itself after this many seconds without activity (0: never). */
  readonly idleSeconds: number;
  private readonly maxOutputBytes: number;
  /** Blocks run on one long-lived runtime in the pod (see the option). */
  readonly warmRuntime: boolean;
  private readonly logger: Logger;
  private readonly functions: FunctionWithRequirements[];
  private session: Session | undefined;
  private starting: Promise<void> | undefined;
  private functionsReady: Promise<void> | undefined;
  private ownsPod = false;
  /** The sync's programs run over the warm runtime's stream while it is up (no exec each). */
  private readonly workspace = new WorkspaceSyncSlot(() => {
    const session = this.requireSession();
    const pod = this.container(session);
    const { exec, namespace, name, container, workspacePath } = pod;
    const channel = { runPython: session.warm.runProgram.bind(session.warm, pod) };
    return { target: { exec, namespace, pod: name, container, channel }, workspacePath };
  });

  constructor(private readonly options: PodCommandLineCodeExecutorOptions = {}) {
    ({
      timeout: this.timeout,
      startupTimeout: this.startupTimeout,
      maxOutputBytes: this.maxOutputBytes,
      functionsModule: this.functionsModule,
      warmRuntime: this.warmRuntime,
    } = validatedLimits(options));
    this.workspacePath = options.workspacePath ?? '/workspace';
    validateWorkspacePath(this.workspacePath);
    this.autoRemove = options.autoRemove ?? true;
    this.logger = options.logger ?? silentLogger;
    this.functions = options.functions ?? [];
    this.idleSeconds = idle.idleTimeoutSeconds(options.command ? 0 : options.idleTimeoutMinutes);
    this.manifest = buildExecutorPod({
      namespace: options.namespace ?? '',
      ...(options.podName !== undefined ? { podName: options.podName } : {}),
      image: options.image ?? 'python:3-slim',
      containerName: options.containerName ?? executorContainerName,
      ...(options.command ? { command: options.command } : {}),
      ...(options.args ? { args: options.args } : {}),
      workspacePath: this.workspacePath,
      ...(options.volume !== undefined ? { volume: options.volume } : {}),
      ...(options.podSpec !== undefined ? { podSpec: options.podSpec } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.annotations ? { annotations: options.annotations } : {}),
      ...(options.resources ? { resources: options.resources } : {}),
      ...(options.activeDeadlineSeconds
        ? { activeDeadlineSeconds: options.activeDeadlineSeconds }
        : {}),
      idleTimeoutSeconds: this.idleSeconds,
      executorId: randomUUID(),
    });
  }

  get podName(): string {
    return this.manifest.name;
  }

  get containerName(): string {
    return this.options.containerName ?? executorContainerName;
  }

  /** The namespace the pod lives in (known once started, or when given). */
  get namespace(): string {
    return this.session?.target.namespace ?? (this.options.namespace || this.manifest.namespace);
  }

  /** The kubeconfig context the running pod was created through. */
  get context(): string | undefined {
    return this.session?.target.context;
  }

  get isRunning(): boolean {
    return this.session !== undefined;
  }

  /** The pod manifest the executor creates. */
  get podManifest(): V1Pod {
    return structuredClone(this.manifest.pod);
  }

  /** Creates the pod (or reuses ours when autoRemove is false) and waits until it is ready. */
  start(options: StartOptions = {}): Promise<void> {
    if (this.session) {
      return Promise.resolve();
    }
    this.starting ??= this.doStart(options).finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async doStart({ signal, onProgress }: StartOptions): Promise<void> {
    signal?.throwIfAborted();
    const target = loadClusterTarget({
      ...(this.options.kubeconfig !== undefined ? { kubeconfig: this.options.kubeconfig } : {}),
      ...(this.options.context !== undefined ? { context: this.options.context } : {}),
      ...(this.options.namespace ? { namespace: this.options.namespace } : {}),
    });
    const specNamespace = (this.manifest.pod.metadata as JsonObject).namespace;
    const namespace =
      this.options.namespace ||
      (typeof specNamespace === 'string' && specNamespace) ||
      target.namespace;
    (this.manifest.pod.metadata as JsonObject).namespace = namespace;
    target.namespace = namespace;
    const core = makeApiClient(target.kubeConfig, CoreV1Api);
    const launcher = new PodLauncher({
      kubeConfig: target.kubeConfig,
      core,
      namespace,
      logger: this.logger,
    });
    const exec = new PodExecClient(target.kubeConfig, {
      ...(this.options.execProtocols ? { protocols: this.options.execProtocols } : {}),
      ...(this.options.webSocketFactory ? { webSocketFactory: this.options.webSocketFactory } : {}),
    });
    const name = this.manifest.name;
    await checkPermissions(target.kubeConfig, namespace, executorPermissions, this.logger);
    signal?.throwIfAborted();
    const existing = await idle.findReplacingEnded(this.ownPod(launcher), onProgress);
    let created = false;
    if (existing) {
      if (this.autoRemove || existing.metadata?.labels?.[managedByLabel] !== managedByValue) {
        throw new ExecutorStateError(
          existing.metadata?.labels?.[managedByLabel] === managedByValue
            ? `pod ${namespace}/${name} already exists; it can be reused only with autoRemove: false`
            : `pod ${namespace}/${name} already exists and was not created by Pod Runner; choose another podName`,
        );
      }
      this.logger.info(`reusing pod ${namespace}/${name}`);
    } else {
      this.logger.info(
        `creating pod ${namespace}/${name} (${this.options.image ?? 'python:3-slim'})`,
      );
      await launcher.create(this.manifest.pod);
      created = true;
    }
    try {
      await launcher.waitUntilReady(name, this.startupTimeout * 1000, {
        ...(signal ? { signal } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
    } catch (error) {
      if (created) {
        this.logger.info(`deleting pod ${namespace}/${name} after a failed start`);
        await launcher
          .deleteAndWait(name)
          .catch((cleanupError: unknown) =>
            this.logger.error(`could not delete pod ${name}: ${String(cleanupError)}`),
          );
      }
      throw error;
    }
    this.ownsPod = true;
    const connection = new ExecutorConnection({
      lookup: launcher,
      namespace,
      pod: name,
      logger: this.logger,
      ...(this.options.onConnectionState ? { onStateChange: this.options.onConnectionState } : {}),
    });
    const warm = new WarmRuntime(
      { exec, namespace, pod: name, container: this.containerName },
      { enabled: this.warmRuntime, logger: this.logger, podIdleSeconds: this.idleSeconds },
    );
    this.session = { target, exec, launcher, connection, warm };
    this.functionsReady = undefined;
    this.logger.info(`pod ${namespace}/${name} is ready`);
  }

  /** Runs the blocks in order and stops at the first non-zero exit. */
  async executeCodeBlocks(
    blocks: CodeBlock[],
    options: ExecuteOptions = {},
  ): Promise<CommandLineCodeResult> {
    if (blocks.length === 0) {
      throw new OptionError('blocks', 'no code blocks to execute');
    }
    const session = this.requireSession();
    if (options.signal?.aborted) {
      return { exitCode: 1, output: cancelledText };
    }
    if (this.functions.length > 0) {
      this.functionsReady ??= setUpFunctions(
        this.container(session),
        this.functions,
        this.functionsModule,
      ).catch((error: unknown) => {
        this.functionsReady = undefined;
        throw error;
      });
      await this.functionsReady;
    }
    let output = '';
    let exitCode = 0;
    let codeFile: string | undefined;
    const mappingsFor = (file: string | undefined) =>
      resultMappings(this.syncedFolders, file, options.source);
    for (const block of blocks) {
      const result = await this.unlessEnded(session, () =>
        session.warm.runCodeBlock(this.container(session), block, options, (file) =>
          options.onPathMappings?.(mappingsFor(codeFile ?? file)),
        ),
      );
      output += result.output;
      exitCode = result.exitCode;
      codeFile ??= result.codeFile;
      if (exitCode !== 0) {
        break;
      }
    }
    const pathMappings = mappingsFor(codeFile);
    return {
      exitCode,
      output,
      ...(codeFile ? { codeFile } : {}),
      ...(pathMappings.length > 0 ? { pathMappings } : {}),
    };
  }

  /**
   * Runs a file of a synced folder in place (`file`: a local path in it, absolute or relative to
   * its root), by its language, as `python app/main.py` runs locally from the root: local imports
   * and relative data paths work. Exit codes, timeout (124), cancel and output as for blocks.
   */
  async runFile(file: string, options: RunFileOptions = {}): Promise<CommandLineCodeResult> {
    const session = this.requireSession();
    if (options.signal?.aborted) {
      return { exitCode: 1, output: cancelledText };
    }
    return this.unlessEnded(session, () =>
      runSyncedFile(this.container(session), file, this.syncedFolders, options, session.warm),
    );
  }

  /**
   * An interactive shell (tty) in the executor container; `/bin/sh` unless a command is given.
   * The caller closes it; the executor's own blocks are unaffected.
   */
  async openTerminal(options: TerminalOptions = {}): Promise<PodTerminal> {
    const session = this.requireSession();
    return this.unlessEnded(session, () =>
      session.exec.openTerminal({
        ...options,
        namespace: session.target.namespace,
        pod: this.podName,
        container: this.containerName,
        command: options.command ?? ['/bin/sh'],
      }),
    );
  }

  /**
   * Mirrors a local folder into the pod under `<workspacePath>/<folder name>` (or `remoteRoot`):
   * only new and changed files travel, in one exec; nothing changed costs no API call.
   */
  syncWorkspace(localDir: string, options?: SyncOptions): Promise<SyncResult> {
    return this.workspace.current().sync(localDir, options);
  }

  /** Copies a file or folder from the pod into a local folder (as `<localDir>/<its name>`). */
  downloadFromPod(
    remotePath: string,
    localDir: string,
    options?: DownloadOptions,
  ): Promise<DownloadResult> {
    return this.workspace.current().download(remotePath, localDir, options);
  }

  /** The folders synced to the current pod (none after stop or restart). */
  get syncedFolders(): readonly SyncedFolder[] {
    return this.workspace.folders;
  }

  /** The executor container's log (its last `tailLines` lines when given). */
  async readLogs(tailLines?: number): Promise<string> {
    return this.requireSession().launcher.readLogs(this.podName, tailLines);
  }

  /** When the pod ended by itself (stopped when idle), deletes it and says why; start() may follow. */
  removeIfEnded(): Promise<string | undefined> {
    return idle.removeIfEnded(this.ownPod(this.requireSession().launcher), () => this.stop());
  }

  /**
   * A run on a pod that stopped by itself deletes it and says why (idleStop.ts). One that found
   * the pod gone during an outage (deleted, failed) says so with its events, and what is left of
   * it is removed, so start() makes a fresh one.
   */
  private async unlessEnded<T>(session: Session, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      // While the API server does not answer, the pod cannot be read either.
      const ended =
        session.connection.state === 'reconnecting'
          ? undefined
          : await idle.removeIfEnded(this.ownPod(session.launcher), () => this.stop());
      if (error instanceof PodGoneError && ended !== idle.idleStopReason(this.idleSeconds)) {
        if (this.session === session) {
          await this.stop().catch((cleanup: unknown) =>
            this.logger.warn(`could not delete pod ${this.podName}: ${String(cleanup)}`),
          );
        }
        throw error;
      }
      throw ended ? new PodStoppedError(ended) : error;
    }
  }

  private ownPod(launcher: PodLauncher): idle.OwnPod {
    return { launcher, name: this.podName, idleSeconds: this.idleSeconds, logger: this.logger };
  }

  private container(session: Session): ExecutorContainer {
    return {
      exec: session.exec,
      namespace: session.target.namespace,
      name: this.podName,
      container: this.containerName,
      workspacePath: this.workspacePath,
      timeout: this.timeout,
      maxOutputBytes: this.maxOutputBytes,
      keepCodeFiles: this.options.keepCodeFiles ?? false,
      logger: this.logger,
      connection: session.connection,
    };
  }

  private requireSession(): Session {
    if (!this.session) {
      throw new ExecutorStateError('the executor is not running: call start() first');
    }
    return this.session;
  }

  /** Deletes the pod and creates it again: all state in the pod is lost. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Deletes the pod (when this executor owns it) and waits until it is gone; start() may follow. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const session = this.session;
    this.session = undefined;
    session?.warm.close();
    this.functionsReady = undefined;
    this.workspace.clear();
    if (session && this.ownsPod) {
      this.logger.info(`deleting pod ${session.target.namespace}/${this.podName}`);
      await session.launcher.deleteAndWait(this.podName);
    }
    this.ownsPod = false;
  }

  /** `await using`: deletes the pod when autoRemove is true, otherwise leaves it for reuse. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.autoRemove) {
      await this.stop();
    } else {
      this.session?.warm.close();
      this.session = undefined;
      this.workspace.clear();
    }
  }
}
