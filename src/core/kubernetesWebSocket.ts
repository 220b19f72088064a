import { randomFillSync } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { PodRunnerError } from './errors.ts';
import { apiErrorFromStatus } from './kubernetesErrors.ts';
import { settleOnce } from './settleOnce.ts';

export type WebSocketFactory = (
  url: string,
  protocols: string[],
  options: WebSocket.ClientOptions,
) => WebSocket;

const defaultWebSocketFactory: WebSocketFactory = (url, protocols, options) =>
  new WebSocket(url, protocols, options);

/**
 * A random frame mask, never all zeros: ws sends a frame with a zero mask as the caller's buffer
 * itself rather than a masked copy, and stdin frames are refilled once sent.
 */
function nonZeroMask(mask: Buffer): void {
  randomFillSync(mask);
  if (mask.readUInt32BE(0) === 0) {
    mask[0] = 1;
  }
}

/** Long enough for a loaded apiserver and kubelet; short enough that a dead one is noticed. */
export const defaultHandshakeTimeoutMs = 30_000;

export interface KubernetesWebSocketOptions {
  kubeConfig: KubeConfig;
  /** The API path with its query, e.g. `/api/v1/namespaces/ns/pods/p/exec?command=sh`. */
  path: string;
  /** Subprotocols to offer, preferred first. */
  protocols: string[];
  /** What the connection is for, as error messages say it: "exec in pod p". */
  action: string;
  /** The error for a connection that fails before the upgrade (refused, reset, timed out). */
  connectionError: (detail: string) => Error;
  /** Aborting while the connection opens destroys it and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How long the server may take to answer the upgrade. */
  handshakeTimeoutMs?: number;
  webSocketFactory?: WebSocketFactory;
}

/**
 * Opens a WebSocket to the apiserver (exec, attach, port-forward) with the kubeconfig's
 * credentials. Resolves once the upgrade succeeded, with the socket paused so that no frame is
 * missed: the caller attaches its listeners, then calls `resume()`. An error response becomes
 * the typed API error its Status describes.
 */
export async function openKubernetesWebSocket(
  options: KubernetesWebSocketOptions,
): Promise<WebSocket> {
  const { signal } = options;
  signal?.throwIfAborted();
  const cluster = options.kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new PodRunnerError('the kubeconfig has no current cluster');
  }
  const url = `${cluster.server.replace(/^http/, 'ws').replace(/\/$/, '')}${options.path}`;
  const socketOptions: WebSocket.ClientOptions = {
    perMessageDeflate: false,
    generateMask: nonZeroMask,
  };
  await options.kubeConfig.applyToHTTPSOptions(socketOptions);
  signal?.throwIfAborted();
  const factory = options.webSocketFactory ?? defaultWebSocketFactory;
  const socket = factory(url, options.protocols, socketOptions);
  const timeoutMs = options.handshakeTimeoutMs ?? defaultHandshakeTimeoutMs;
  return new Promise<WebSocket>((resolve, reject) => {
    const outcome = settleOnce<WebSocket>(resolve, reject, () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
    const fail = (error: Error) => {
      socket.terminate();
      outcome.reject(error);
    };
    const onAbort = () => fail(signal?.reason as Error);
    const timer = setTimeout(
      () =>
        fail(
          options.connectionError(
            `the server did not answer the WebSocket upgrade within ${timeoutMs / 1000} s`,
          ),
        ),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () =>
        fail(apiErrorFromStatus(response.statusCode ?? 0, body, options.action)),
      );
    });
    socket.on('error', (error) => {
      if (!outcome.settled) {
        fail(options.connectionError(error.message));
      }
    });
    socket.once('open', () => {
      socket.pause();
      outcome.resolve(socket);
    });
  });
}
