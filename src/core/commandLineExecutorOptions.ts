import type { KubeConfig } from '@kubernetes/client-node';
import { OptionError, type PodGoneError } from './errors.ts';
import type { FunctionWithRequirements } from './functions.ts';
import type { Logger } from './logger.ts';
import { defaultMaxOutputBytes } from './outputCollector.ts';
import type { WebSocketFactory } from './podExec.ts';
import type { PortForwardState } from './portForwarder.ts';
import type { JsonObject, SpecInput } from './specLoader.ts';

export interface PodCommandLineCodeExecutorOptions {
  /** A kubeconfig path or KubeConfig; default: KUBECONFIG (paths merged), ~/.kube/config, in-cluster. */
  kubeconfig?: string | KubeConfig;
  /** Default: the kubeconfig's current context; chosen in memory, the file is never written. */
  context?: string;
  /** Default: the context's namespace, else the in-cluster namespace, else "default". */
  namespace?: string;
  /** Default "python:3-slim". */
  image?: string;
  /** Default "autogen-code-exec-<uuid>". */
  podName?: string;
  /** Default "autogen-executor". */
  containerName?: string;
  /** The container's command; default: a keep-alive that exits promptly on SIGTERM. */
  command?: string[];
  args?: string[];
  /** Seconds per code block; default 60. */
  timeout?: number;
  /** Seconds to wait for the pod to be ready; default 300. */
  startupTimeout?: number;
  /** Where code files go in the pod (a POSIX path); default "/workspace". */
  workspacePath?: string;
  /** A volume mounted at workspacePath: object, YAML/JSON string or file path. */
  volume?: SpecInput;
  /** The pod: object, YAML/JSON string or file path (a multi-document file: its Pod). */
  podSpec?: SpecInput;
  /** Delete the pod when the executor is disposed; when false a same-named pod of ours is reused. Default true. */
  autoRemove?: boolean;
  functions?: FunctionWithRequirements[];
  /** Module name for `functions`; default "functions". */
  functionsModule?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resources?: JsonObject;
  /** Kubernetes ends the pod after this many seconds (a backstop for orphaned pods). */
  activeDeadlineSeconds?: number;
  /** The pod stops by itself after this long with no run or shell (0: never); default 60. */
  idleTimeoutMinutes?: number;
  /** Output kept per call; beyond it the head and tail are kept. Default 10 MiB. */
  maxOutputBytes?: number;
  logger?: Logger;
  /** Keep the generated code files (tmp_code_*) in the workspace after each block; default false. */
  keepCodeFiles?: boolean;
  /**
   * Run blocks on a warm runtime: one exec stream, opened on first use, to a small Python program
   * in the pod that forks a fresh process per block (same exit codes, timeout, cancel, output
   * and files as an exec per block, in a fraction of the time). Where the image has no Python the
   * executor says so once in its log and runs each block in an exec of its own, as it does
   * always with false. Default true (unless the environment sets POD_RUNNER_WARM_RUNTIME=off).
   */
  warmRuntime?: boolean;
  /** Exec subprotocols to offer, newest first (default v5 then v4). */
  execProtocols?: string[];
  webSocketFactory?: WebSocketFactory;
  /**
   * The connection's state as it changes: `reconnecting` while a run waits for an unreachable API
   * server, `gone` (with the error saying why) when the pod was deleted or stopped meanwhile.
   */
  onConnectionState?: (state: PortForwardState, podGone?: PodGoneError) => void;
}

/** The options with a default and a range, checked: an OptionError names the first wrong one. */
export function validatedLimits(options: PodCommandLineCodeExecutorOptions): {
  timeout: number;
  startupTimeout: number;
  maxOutputBytes: number;
  functionsModule: string;
  warmRuntime: boolean;
} {
  const functionsModule = options.functionsModule ?? 'functions';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(functionsModule)) {
    throw new OptionError(
      'functionsModule',
      `must be a valid Python identifier, got "${functionsModule}"`,
    );
  }
  const warmRuntime = options.warmRuntime ?? process.env.POD_RUNNER_WARM_RUNTIME !== 'off';
  if (typeof warmRuntime !== 'boolean') {
    throw new OptionError('warmRuntime', `must be true or false, got ${String(warmRuntime)}`);
  }
  return {
    timeout: positiveNumber('timeout', options.timeout ?? 60),
    startupTimeout: positiveNumber('startupTimeout', options.startupTimeout ?? 300),
    maxOutputBytes: positiveNumber(
      'maxOutputBytes',
      options.maxOutputBytes ?? defaultMaxOutputBytes,
    ),
    functionsModule,
    warmRuntime,
  };
}

function positiveNumber(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    throw new OptionError(option, `must be a number of at least 1, got ${String(value)}`);
  }
  return value;
}
