import type { PodJupyterConnectionInfo } from './jupyterConnection.ts';
import type { JupyterWebSocketFactory } from './jupyterKernelClient.ts';
import type { KernelOutputEvent } from './jupyterMessages.ts';
import type { Logger } from './logger.ts';

/** Something that yields a reachable server: a PodJupyterServer (through its port-forward). */
export interface JupyterConnectionProvider {
  connect(): Promise<PodJupyterConnectionInfo>;
}

export interface PodJupyterCodeExecutorOptions {
  /** Default "python3". */
  kernelName?: string;
  /**
   * A kernel already running on the server to attach to, its variables intact, instead of
   * starting one (start() fails when the server has no such kernel). stop() still shuts it down.
   */
  kernelId?: string;
  /**
   * The Jupyter session of the kernel connection (default a new one). An earlier executor's, with
   * its kernelId, gets what the server kept for it: resume() follows a block it left running.
   */
  sessionId?: string;
  /** Wall-clock seconds per block; on expiry the kernel is interrupted. Default 60. */
  timeout?: number;
  /** Where images and HTML outputs are saved; default a fresh temporary directory removed by stop(). */
  outputDir?: string;
  /**
   * The most output kept per executeCodeBlocks() call, in bytes (its head and tail, with a marker
   * saying how much was left out); default 10 MiB. `onOutput` still sees every event.
   */
  maxOutputBytes?: number;
  /** Answers input(); without it input() fails at once instead of hanging. */
  onInput?: (prompt: string, password: boolean) => Promise<string>;
  logger?: Logger;
  fetch?: typeof fetch;
  webSocketFactory?: JupyterWebSocketFactory;
  /** How often the kernel connection is pinged (one with no pong in time is replaced); default 10 s. */
  livenessIntervalMs?: number;
}

export interface JupyterCodeResult {
  exitCode: number;
  output: string;
  outputFiles: string[];
}

export interface JupyterExecuteOptions {
  signal?: AbortSignal;
  /** Every output message as a typed event (full mime bundles, raw tracebacks). */
  onOutput?: (event: KernelOutputEvent) => void;
  /** Told each block's request id as it is sent: resume() takes it, after a reload say. */
  onSent?: (requestId: string) => void;
}
