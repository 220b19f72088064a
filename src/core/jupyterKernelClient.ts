import WebSocket from 'ws';
import { Backoff, type BackoffPolicy } from './backoff.ts';
import { JupyterAuthError, KernelConnectionError, KernelDiedError } from './errors.ts';
import {
  authorizationHeaders,
  jupyterWebSocketUrl,
  reconnectionBackoff,
  type PodJupyterConnectionInfo,
} from './jupyterConnection.ts';
import {
  executeRequest,
  executionReply,
  inputReply,
  kernelInfoRequest,
  outputEvent,
  parseMessage,
  type JupyterMessage,
  type KernelOutputEvent,
} from './jupyterMessages.ts';
import { silentLogger, type Logger } from './logger.ts';
import { randomUUID } from 'node:crypto';
import { keepAlive } from './socketLiveness.ts';
import { defaultHandshakeTimeoutMs } from './kubernetesWebSocket.ts';
import type {
  ExecuteRequestOptions,
  ExecutionReply,
  KernelChannelOptions,
  PendingExecution,
} from './kernelChannelTypes.ts';

export { JupyterAuthError, KernelDiedError } from './errors.ts';
export type {
  ExecuteRequestOptions,
  ExecutionReply,
  JupyterWebSocketFactory,
  KernelChannelOptions,
} from './kernelChannelTypes.ts';

/** After a restart, kernel_info is asked again each second until the kernel answers. */
const kernelInfoBackoff: BackoffPolicy = { initialDelayMs: 1_000, maxDelayMs: 1_000 };

/**
 * One kernel's channels over the server's WebSocket, in legacy JSON text frames (no binary
 * subprotocol is offered). A dropped socket is reopened with the same session, so the server
 * replays what it buffered; the kernel is not restarted.
 */
export class KernelChannel {
  readonly session: string;
  private socket: WebSocket | undefined;
  private opening: Promise<WebSocket> | undefined;
  private readonly pending = new Map<string, PendingExecution>();
  /** kernel_info requests in flight, by msg_id. */
  private readonly infoRequests = new Map<string, () => void>();
  /** kernel_info requests sent as a barrier after a reconnection, by msg_id. */
  private readonly barriers = new Map<string, () => void>();
  /** Aborted by close(): a connection being retried gives up at once. */
  private readonly lifetime = new AbortController();
  private restartsSeen = 0;
  /** Server restarts after which the connection was opened afresh and the kernel answered. */
  private restartsRecovered = 0;
  private recovering: Promise<void> | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly info: PodJupyterConnectionInfo,
    readonly kernelId: string,
    private readonly options: KernelChannelOptions = {},
  ) {
    this.session = options.session ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * How many times the server said it restarts this kernel (status `restarting`: its restarter
   * replaced a dead process under the same id), so the caller knows the kernel's state is gone.
   */
  get restarts(): number {
    return this.restartsSeen;
  }

  /** Runs code; resolves when both execute_reply and status idle for it have arrived. */
  async execute(code: string, options: ExecuteRequestOptions = {}): Promise<ExecutionReply> {
    await this.recoverFromServerRestart();
    const socket = await this.open();
    const message = executeRequest(
      this.session,
      code,
      options.onInput !== undefined,
      options.silent,
    );
    return new Promise<ExecutionReply>((resolve, reject) => {
      const request = JSON.stringify(message);
      this.pending.set(message.header.msg_id, {
        msgId: message.header.msg_id,
        request,
        sentOn: socket,
        acknowledged: false,
        replied: undefined,
        idle: false,
        options,
        resolve,
        reject,
      });
      socket.send(request);
      options.onSent?.(message.header.msg_id);
    });
  }

  /**
   * Follows an execution that an earlier connection of this session sent (a window before its
   * reload): the server replays what it buffered while no connection was open, then the rest
   * comes live. The kernel answers a request sent now only after that execution: if it has not
   * ended by then, its messages were lost (not buffered) and it fails saying so.
   */
  follow(msgId: string, options: ExecuteRequestOptions = {}): Promise<ExecutionReply> {
    const followed = new Promise<ExecutionReply>((resolve, reject) => {
      // Registered before the connection opens: the replay comes as soon as it does. Counted as
      // acknowledged: this connection never sends it.
      this.pending.set(msgId, {
        msgId,
        request: '',
        sentOn: undefined,
        acknowledged: true,
        replied: undefined,
        idle: false,
        options,
        resolve,
        reject,
      });
    });
    const giveUp = (error: Error) => {
      const execution = this.pending.get(msgId);
      this.pending.delete(msgId);
      execution?.reject(error);
    };
    this.open()
      .then((socket) => this.barrier(socket))
      .then((answered) => {
        if (answered && this.pending.get(msgId)?.idle === false) {
          giveUp(
            new KernelConnectionError(
              'the block ended while no connection was open and the server kept none of its output: its result is lost',
            ),
          );
        }
      }, giveUp);
    return followed;
  }

  /**
   * After a restart: opens a fresh connection (the old one may still be bridged to the old
   * process, and what is sent on it is lost) and resolves once the kernel answers kernel_info,
   * asking again each second, or gives up after `timeoutMs`.
   */
  async reconnectWhenReady(timeoutMs = 60_000): Promise<void> {
    const previous = this.socket;
    this.socket = undefined;
    previous?.close();
    const deadline = AbortSignal.timeout(timeoutMs);
    const answered = new AbortController();
    const askAgain = new Backoff(kernelInfoBackoff, AbortSignal.any([deadline, answered.signal]));
    const asked: string[] = [];
    try {
      do {
        const socket = await this.open();
        const message = kernelInfoRequest(this.session);
        asked.push(message.header.msg_id);
        this.infoRequests.set(message.header.msg_id, () => answered.abort());
        socket.send(JSON.stringify(message));
      } while (await askAgain.wait());
    } finally {
      for (const msgId of asked) {
        this.infoRequests.delete(msgId);
      }
    }
    if (!answered.signal.aborted) {
      throw new KernelConnectionError(
        `kernel ${this.kernelId} did not answer within ${Math.round(timeoutMs / 1000)} s`,
      );
    }
  }

  /**
   * After the server restarted the kernel, requests wait for the new process: sent at once, they
   * can be lost, or their output can (iopub not yet connected to it). A fresh connection is one
   * the server opens only once the kernel's channels answer.
   */
  recoverFromServerRestart(): Promise<void> {
    const seen = this.restartsSeen;
    if (seen === this.restartsRecovered) {
      return Promise.resolve();
    }
    this.recovering ??= this.reconnectWhenReady()
      .then(() => void (this.restartsRecovered = seen))
      .finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  /** Abandons every pending execution with `error` (kernel restart or death). */
  failPending(error: Error): void {
    for (const execution of this.pending.values()) {
      execution.reject(error);
    }
    this.pending.clear();
  }

  /** Ends the connection, which may be half-open (a cell gave up on it); the next request reconnects. */
  dropConnection(): void {
    this.socket?.terminate();
  }

  close(): void {
    this.lifetime.abort();
    this.failPending(new KernelConnectionError('the kernel connection was closed'));
    this.socket?.close();
    this.socket = undefined;
  }

  private open(): Promise<WebSocket> {
    if (this.lifetime.signal.aborted) {
      return Promise.reject(new KernelConnectionError('the kernel connection was closed'));
    }
    if (this.socket?.readyState === WebSocket.OPEN) {
      return Promise.resolve(this.socket);
    }
    this.opening ??= this.connectWithRetries().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async connectWithRetries(): Promise<WebSocket> {
    const backoff = reconnectionBackoff(this.lifetime.signal, this.options.reconnectWindowMs);
    for (;;) {
      try {
        const socket = await this.connectOnce();
        this.socket = socket;
        return socket;
      } catch (error) {
        const unreachable = this.info.permanentFailure?.();
        if (unreachable) {
          throw unreachable;
        }
        // Neither a refused token nor a kernel the server no longer has gets better with time.
        const final = error instanceof JupyterAuthError || error instanceof KernelDiedError;
        if (final || !(await backoff.wait())) {
          throw error;
        }
      }
    }
  }

  private connectOnce(): Promise<WebSocket> {
    const url = `${jupyterWebSocketUrl(this.info, `/api/kernels/${this.kernelId}/channels`)}?session_id=${this.session}`;
    const factory = this.options.webSocketFactory ?? ((u, o) => new WebSocket(u, o));
    const socket = factory(url, {
      headers: authorizationHeaders(this.info),
      perMessageDeflate: false,
      handshakeTimeout: defaultHandshakeTimeoutMs,
    });
    return new Promise<WebSocket>((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => {
        socket.terminate();
        const status = response.statusCode ?? 0;
        reject(
          status === 401 || status === 403
            ? new JupyterAuthError(
                `the Jupyter server refused the kernel connection (HTTP ${status}): check the token`,
              )
            : status === 404
              ? new KernelDiedError(`kernel ${this.kernelId} no longer exists on the server`)
              : new KernelConnectionError(`the kernel connection was refused with HTTP ${status}`),
        );
      });
      socket.once('error', (error) =>
        reject(new KernelConnectionError(`cannot connect to the kernel: ${error.message}`)),
      );
      socket.once('open', () => {
        keepAlive(socket, this.options.livenessIntervalMs);
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          if (isBinary) {
            return;
          }
          // An exception here would escape the WebSocket's event handler and end the process.
          try {
            this.dispatch(data.toString('utf8'));
          } catch (error) {
            this.logger.warn(
              `kernel ${this.kernelId}: a message could not be handled: ${(error as Error).message}`,
            );
          }
        });
        socket.on('close', () => this.onClose(socket));
        resolve(socket);
      });
    });
  }

  private onClose(socket: WebSocket): void {
    if (this.socket !== socket || this.lifetime.signal.aborted) {
      return;
    }
    this.socket = undefined;
    if (this.pending.size > 0) {
      this.logger.warn(
        `kernel ${this.kernelId}: connection dropped during execution; reconnecting`,
      );
      this.open().then(
        (reopened) => void this.recoverRequests(reopened),
        (error: unknown) => this.failPending(error as Error),
      );
    }
  }

  private dispatch(text: string): void {
    const message = parseMessage(text);
    if (!message) {
      return;
    }
    const parentId = message.parent_header?.msg_id;
    // A kernel_info request counts as answered by its status on iopub, not by its reply on
    // shell: after a restart shell can be bridged to the new process before iopub is, and a
    // request sent then would get its reply but never its idle.
    if (message.header.msg_type === 'kernel_info_reply' && parentId) {
      return;
    }
    const execution = parentId ? this.pending.get(parentId) : undefined;
    if (execution) {
      execution.acknowledged = true;
    }
    if (message.header.msg_type === 'status') {
      if (parentId) {
        this.barriers.get(parentId)?.();
        this.infoRequests.get(parentId)?.();
      }
      const state = (message.content as { execution_state?: string }).execution_state;
      if (state === 'restarting') {
        this.restartsSeen++;
      }
      if (state === 'restarting' || state === 'dead') {
        this.failPending(
          new KernelDiedError(`the kernel died (status: ${state}); restart() starts a fresh one`),
        );
        return;
      }
      if (execution && state === 'idle') {
        execution.idle = true;
        this.complete(execution);
      }
      return;
    }
    if (!execution) {
      return;
    }
    if (message.channel === 'shell' && message.header.msg_type === 'execute_reply') {
      execution.replied = executionReply(message.content);
      this.complete(execution);
      return;
    }
    const event = outputEvent(message);
    if (!event) {
      return;
    }
    if (event.type === 'input_request') {
      this.answerInput(message, event, execution).catch((error: unknown) =>
        this.logger.warn(`could not answer input(): ${(error as Error).message}`),
      );
      return;
    }
    execution.options.onEvent?.(event);
  }

  private async answerInput(
    message: JupyterMessage,
    event: Extract<KernelOutputEvent, { type: 'input_request' }>,
    execution: PendingExecution,
  ): Promise<void> {
    execution.options.onEvent?.(event);
    let value = '';
    try {
      value = (await execution.options.onInput?.(event.prompt, event.password)) ?? '';
    } catch (error) {
      this.logger.warn(`input handler failed: ${(error as Error).message}`);
    }
    const socket = await this.open();
    socket.send(JSON.stringify(inputReply(this.session, message, value)));
  }

  /**
   * A request written just before the connection dropped may never have reached the kernel. The
   * kernel handles shell requests in order and iopub is one ordered stream, so once iopub carries
   * the status of a kernel_info request sent now (a barrier), every earlier request that reached
   * the kernel has shown a message. The silent ones are sent again; a copy the kernel already had
   * is refused as a duplicate and stays silent past a second barrier: it ran, but what it printed
   * went to the dropped connection, and it fails with that said instead of waiting for ever.
   */
  private async recoverRequests(socket: WebSocket): Promise<void> {
    const silent = (executions: PendingExecution[]) =>
      executions.filter((e) => this.pending.get(e.msgId) === e && !e.acknowledged);
    const earlier = silent([...this.pending.values()].filter((e) => e.sentOn !== socket));
    if (earlier.length === 0 || !(await this.barrier(socket))) {
      return;
    }
    const lost = silent(earlier);
    for (const execution of lost) {
      this.logger.info(`kernel ${this.kernelId}: sending again a request lost with the connection`);
      execution.sentOn = socket;
      socket.send(execution.request);
    }
    if (lost.length === 0 || !(await this.barrier(socket))) {
      return;
    }
    for (const execution of silent(lost)) {
      this.pending.delete(execution.msgId);
      execution.reject(
        new KernelConnectionError(
          'the connection to the kernel dropped while this block ran: it ran, but its output and result were lost',
        ),
      );
    }
  }

  /** Resolves true once iopub shows a kernel_info request sent now, false if `socket` closes first. */
  private barrier(socket: WebSocket): Promise<boolean> {
    const request = kernelInfoRequest(this.session);
    const id = request.header.msg_id;
    if (socket.readyState !== WebSocket.OPEN) {
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      const closed = () => {
        this.barriers.delete(id);
        resolve(false);
      };
      socket.once('close', closed);
      this.barriers.set(id, () => {
        this.barriers.delete(id);
        socket.off('close', closed);
        resolve(true);
      });
      socket.send(JSON.stringify(request));
    });
  }

  private complete(execution: PendingExecution): void {
    if (execution.replied && execution.idle) {
      this.pending.delete(execution.msgId);
      execution.resolve(execution.replied);
    }
  }
}
