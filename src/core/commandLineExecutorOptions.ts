import type { KubeConfig } from '@kubernetes/client-node';
import type { PodGoneError } from './errors.ts';
import type { FunctionWithRequirements } from './functions.ts';
import type { Logger } from './logger.ts';
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
  /** Exec subprotocols to offer, newest first (default v5 then v4). */
  execProtocols?: string[];
  webSocketFactory?: WebSocketFactory;
  /**
   * The connection's state as it changes: `reconnecting` while a run waits for an unreachable API
   * server, `gone` (with the error saying why) when the pod was deleted or stopped meanwhile.
   */
  onConnectionState?: (state: PortForwardState, podGone?: PodGoneError) => void;
}
