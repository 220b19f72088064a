import type { KubeConfig } from '@kubernetes/client-node';
import type WebSocket from 'ws';
import { ConnectionLostError } from './errors.ts';
import {
  closeChannel,
  exitCodeOf,
  parseStatus,
  statusChannel,
  stderrChannel,
  stdinChannel,
  stdoutChannel,
} from './execChannels.ts';
import type { StatusBody } from './kubernetesErrors.ts';
import { openKubernetesWebSocket, type WebSocketFactory } from './kubernetesWebSocket.ts';
import { PodTerminal, type PodTerminalRequest } from './podTerminal.ts';
import { settleOnce } from './settleOnce.ts';

export { ExecStartError } from './errors.ts';
export { exitCodeOf } from './execChannels.ts';
export type { WebSocketFactory } from './kubernetesWebSocket.ts';

/** Exec subprotocols, newest first: v5 can half-close stdin, v4 cannot. */
export const execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const stdinChunkBytes = 1024 * 1024;
/** Where a streamed stdin frame's bytes start: the byte before them is the channel's. */
export const stdinFrameOffset = 1;
/** A streamed stdin waits for the socket to drain past this many buffered bytes. */
const stdinBufferedBytes = 4 * 1024 * 1024;

export interface PodExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  /**
   * Bytes for the process's stdin, or frames sent as they are produced (the producer waits while
   * the socket is behind); on v5 stdin is closed after them. A streamed frame holds its bytes from
   * index stdinFrameOffset on: the client writes the channel before them and sends it as it is.
   * Each frame is sent (its bytes masked into the socket's own buffer) before the next is asked
   * for, so the producer may fill it again from then on.
   */
  stdin?: Buffer | AsyncIterable<Buffer>;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Called once the stream is open: from then on the command may have started. */
  onOpen?: () => void;
  /** Aborting closes the connection (the remote process keeps running: kill it separately). */
  signal?: AbortSignal;
}

export interface PodExecResult {
  exitCode: number;
  /** The subprotocol the server chose. */
  protocol: string;
}

/**
 * pods/exec over WebSocket (the kubelet's channel protocol), with the exit code read from the
 * status channel by its `ExitCode` cause. A socket that closes without a status is an error,
 * never exit code 0.
 */
export class PodExecClient {
  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: { protocols?: string[]; webSocketFactory?: WebSocketFactory } = {},
  ) {}

  async run(request: PodExecRequest): Promise<PodExecResult> {
    const socket = await this.open(request, { stdin: request.stdin !== undefined, tty: false });
    request.onOpen?.();
    return new Promise<PodExecResult>((resolve, reject) => {
      let status: StatusBody | undefined;
      const outcome = settleOnce(resolve, reject, () =>
        request.signal?.removeEventListener('abort', onAbort),
      );
      const onAbort = () => {
        socket.terminate();
        outcome.reject(request.signal?.reason);
      };
      // The signal may have fired just as the socket opened.
      if (request.signal?.aborted) {
        onAbort();
        return;
      }
      request.signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary || data.length === 0) {
          return;
        }
        const payload = data.subarray(1);
        switch (data[0]) {
          case stdoutChannel:
            request.onStdout?.(payload);
            break;
          case stderrChannel:
            request.onStderr?.(payload);
            break;
          case statusChannel:
            status = parseStatus(payload);
            break;
          default:
            break;
        }
      });
      socket.on('error', (error) => {
        outcome.reject(new ConnectionLostError(request.pod, error.message));
      });
      socket.on('close', (code: number) => {
        if (!status) {
          outcome.reject(
            new ConnectionLostError(
              request.pod,
              `the exec stream closed (code ${code}) without an exit status`,
            ),
          );
          return;
        }
        try {
          outcome.resolve({ exitCode: exitCodeOf(status, request.pod), protocol: socket.protocol });
        } catch (error) {
          outcome.reject(error);
        }
      });
      socket.resume();
      if (Buffer.isBuffer(request.stdin)) {
        // Written in order before the close frame; the socket's close settles the run.
        sendStdin(socket, request.stdin);
        closeStdin(socket);
      } else if (request.stdin) {
        streamStdin(socket, request.stdin).catch((error: unknown) => {
          socket.terminate();
          outcome.reject(error);
        });
      }
    });
  }

  /**
   * An interactive process with a terminal (tty): stdin stays open, stdout and stderr arrive
   * merged, and the terminal size follows `resize`.
   */
  async openTerminal(
    request: PodTerminalRequest & { columns?: number; rows?: number },
  ): Promise<PodTerminal> {
    const socket = await this.open(request, { stdin: true, tty: true });
    const terminal = new PodTerminal(socket, request.pod);
    if (request.columns && request.rows) {
      terminal.resize(request.columns, request.rows);
    }
    return terminal;
  }

  private open(
    request: Pick<PodExecRequest, 'namespace' | 'pod' | 'container' | 'command' | 'signal'>,
    streams: { stdin: boolean; tty: boolean },
  ): Promise<WebSocket> {
    const query = new URLSearchParams();
    for (const part of request.command) {
      query.append('command', part);
    }
    query.set('container', request.container);
    query.set('stdin', String(streams.stdin));
    query.set('stdout', 'true');
    query.set('stderr', String(!streams.tty));
    query.set('tty', String(streams.tty));
    const action = streams.tty
      ? `open a terminal in pod ${request.pod}`
      : `exec in pod ${request.pod}`;
    return openKubernetesWebSocket({
      kubeConfig: this.kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(request.namespace)}/pods/${encodeURIComponent(request.pod)}/exec?${query.toString()}`,
      protocols: this.options.protocols ?? execProtocols,
      action,
      connectionError: (detail) => new ConnectionLostError(request.pod, detail),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(this.options.webSocketFactory ? { webSocketFactory: this.options.webSocketFactory } : {}),
    });
  }
}

/** Sends stdin in frames of at most stdinChunkBytes, in order before anything sent after it. */
function sendStdin(socket: WebSocket, data: Buffer): void {
  for (let offset = 0; offset < data.length; offset += stdinChunkBytes) {
    const chunk = data.subarray(offset, offset + stdinChunkBytes);
    const frame = Buffer.allocUnsafe(chunk.length + stdinFrameOffset);
    frame[0] = stdinChannel;
    chunk.copy(frame, stdinFrameOffset);
    socket.send(frame);
  }
}

/** On v5 the close frame ends stdin (v4 cannot half-close). */
function closeStdin(socket: WebSocket): void {
  if (socket.protocol === 'v5.channel.k8s.io') {
    socket.send(Buffer.from([closeChannel, stdinChannel]));
  }
}

/**
 * Sends frames as the producer makes them. While more than stdinBufferedBytes wait in the socket,
 * the producer is not asked for more; a socket that closed (the process exited) stops it.
 */
async function streamStdin(socket: WebSocket, frames: AsyncIterable<Buffer>): Promise<void> {
  for await (const frame of frames) {
    if (socket.readyState !== socket.OPEN) {
      return;
    }
    if (frame.length <= stdinFrameOffset) {
      continue;
    }
    frame[0] = stdinChannel;
    const written = new Promise<void>((resolve) => socket.send(frame, () => resolve()));
    if (socket.bufferedAmount > stdinBufferedBytes) {
      await written;
    }
  }
  if (socket.readyState === socket.OPEN) {
    closeStdin(socket);
  }
}
