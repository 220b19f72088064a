import type WebSocket from 'ws';
import type { KernelOutputEvent } from './jupyterMessages.ts';
import type { Logger } from './logger.ts';

/** The shapes of a kernel channel's requests and replies. */

export interface ExecutionReply {
  /** `aborted`: the kernel answered without running the code. */
  status: 'ok' | 'error' | 'aborted';
  executionCount: number | null;
  /** The reply's own account of a failure (also sent on iopub, where it can be lost). */
  error?: { ename: string; evalue: string; traceback: string[] };
}

export interface ExecuteRequestOptions {
  onEvent?: (event: KernelOutputEvent) => void;
  /** Answers input(); without it the kernel is told stdin is unavailable and input() fails at once. */
  onInput?: (prompt: string, password: boolean) => Promise<string>;
  /** Run without output in the history or the execution count (the executor's own set-up code). */
  silent?: boolean;
  /** Told the request's msg_id as it is sent (follow() takes it, from another connection). */
  onSent?: (msgId: string) => void;
}

export type JupyterWebSocketFactory = (url: string, options: WebSocket.ClientOptions) => WebSocket;

export interface KernelChannelOptions {
  webSocketFactory?: JupyterWebSocketFactory;
  logger?: Logger;
  /** How long a lost connection is tried again before the channel gives up; default 10 minutes. */
  reconnectWindowMs?: number;
  /** How often the connection is pinged; one with no pong by the next ping is replaced. Default 10 s. */
  livenessIntervalMs?: number;
  /** An earlier connection's session id: the server replays what it buffered for it. */
  session?: string;
}

export interface PendingExecution {
  msgId: string;
  /**
   * The request, kept byte for byte to send again if the connection dropped before the kernel saw
   * it: the kernel refuses a message whose signature it has seen, so a copy never runs twice.
   */
  request: string;
  /** The connection the request was last written to (none for one followed, sent by another). */
  sentOn: WebSocket | undefined;
  /** Whether any message for this request (a busy status at least) has come back. */
  acknowledged: boolean;
  replied: ExecutionReply | undefined;
  idle: boolean;
  options: ExecuteRequestOptions;
  resolve: (reply: ExecutionReply) => void;
  reject: (error: Error) => void;
}
