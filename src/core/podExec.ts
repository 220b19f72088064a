import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { ConnectionLostError, PodRunnerError } from './errors.ts';
import {
  closeChannel,
  exitCodeOf,
  parseStatus,
  statusChannel,
  stderrChannel,
  stdinChannel,
  stdoutChannel,
} from './execChannels.ts';
import { apiErrorFromStatus, type StatusBody } from './kubernetesErrors.ts';
import { PodTerminal, type PodTerminalRequest } from './podTerminal.ts';
import { settleOnce } from './settleOnce.ts';

/** Exec subprotocols, newest first: v5 can half-close stdin, v4 cannot. */
export { ExecStartError, exitCodeOf } from './execChannels.ts';

export const execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const stdinChunkBytes = 1024 * 1024;

export interface PodExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  /** Bytes for the process's stdin; on v5 stdin is closed after them. */
  stdin?: Buffer;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Aborting closes the connection (the remote process keeps running: kill it separately). */
  signal?: AbortSignal;
}

export interface PodExecResult {
  exitCode: number;
  /** The subprotocol the server chose. */
  protocol: string;
}

export type WebSocketFactory = (
  url: string,
  protocols: string[],
  options: WebSocket.ClientOptions,
) => WebSocket;

const defaultWebSocketFactory: WebSocketFactory = (url, protocols, options) =>
  new WebSocket(url, protocols, options);

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
    return new Promise<PodExecResult>((resolve, reject) => {
      let status: StatusBody | undefined;
      const outcome = settleOnce(resolve, reject, () =>
        request.signal?.removeEventListener('abort', onAbort),
      );
      const onAbort = () => {
        socket.terminate();
        outcome.reject(request.signal?.reason);
      };
      // The signal may have fired while the socket was opening.
      if (request.signal?.aborted) {
        onAbort();
        return;
      }
      request.signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('unexpected-response', (_req, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          socket.terminate();
          outcome.reject(
            apiErrorFromStatus(response.statusCode ?? 0, body, `exec in pod ${request.pod}`),
          );
        });
      });
      socket.on('open', () => {
        if (request.stdin) {
          sendStdin(socket, request.stdin);
        }
      });
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
    await terminal.opened;
    if (request.columns && request.rows) {
      terminal.resize(request.columns, request.rows);
    }
    return terminal;
  }

  private async open(
    request: Pick<PodExecRequest, 'namespace' | 'pod' | 'container' | 'command' | 'signal'>,
    streams: { stdin: boolean; tty: boolean },
  ): Promise<WebSocket> {
    request.signal?.throwIfAborted();
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) {
      throw new PodRunnerError('the kubeconfig has no current cluster');
    }
    const query = new URLSearchParams();
    for (const part of request.command) {
      query.append('command', part);
    }
    query.set('container', request.container);
    query.set('stdin', String(streams.stdin));
    query.set('stdout', 'true');
    query.set('stderr', String(!streams.tty));
    query.set('tty', String(streams.tty));
    const base = cluster.server.replace(/^http/, 'ws').replace(/\/$/, '');
    const url = `${base}/api/v1/namespaces/${encodeURIComponent(request.namespace)}/pods/${encodeURIComponent(request.pod)}/exec?${query.toString()}`;
    const socketOptions: WebSocket.ClientOptions = { perMessageDeflate: false };
    await this.kubeConfig.applyToHTTPSOptions(socketOptions);
    request.signal?.throwIfAborted();
    const factory = this.options.webSocketFactory ?? defaultWebSocketFactory;
    return factory(url, this.options.protocols ?? execProtocols, socketOptions);
  }
}

/** Sends stdin in frames; on v5 the close frame then ends it (v4 cannot half-close). */
function sendStdin(socket: WebSocket, data: Buffer): void {
  for (let offset = 0; offset < data.length; offset += stdinChunkBytes) {
    const chunk = data.subarray(offset, offset + stdinChunkBytes);
    const frame = Buffer.allocUnsafe(chunk.length + 1);
    frame[0] = stdinChannel;
    chunk.copy(frame, 1);
    socket.send(frame);
  }
  if (socket.protocol === 'v5.channel.k8s.io') {
    socket.send(Buffer.from([closeChannel, stdinChannel]));
  }
}
