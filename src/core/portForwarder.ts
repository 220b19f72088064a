import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { KubernetesApiError, PortForwardError, type PodGoneError } from './errors.ts';
import { openKubernetesWebSocket, type WebSocketFactory } from './kubernetesWebSocket.ts';
import { silentLogger, type Logger } from './logger.ts';
import { podGoneError, podGoneReason, type PodLookup } from './podGone.ts';

export { PortForwardError } from './errors.ts';
export type { PodLookup } from './podGone.ts';

/**
 * `connected`: the last connection reached the pod. `reconnecting`: the API server cannot be
 * reached (network lost, laptop asleep); each new connection tries again. `gone`: the pod was
 * deleted or stopped; connections are refused from then on.
 */
export type PortForwardState = 'connected' | 'reconnecting' | 'gone';

export interface PortForwarderOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  pod: string;
  remotePort: number;
  logger?: Logger;
  webSocketFactory?: WebSocketFactory;
  /** Without it a pod that is gone is never told from an unreachable one. */
  podLookup?: PodLookup;
  /** Called on each change; with `gone`, the error that says why. */
  onStateChange?: (state: PortForwardState, podGone?: PodGoneError) => void;
}

const portForwardProtocol = 'v4.channel.k8s.io';

/**
 * A local listener on 127.0.0.1 (one stable port for its lifetime) whose every connection is
 * carried to the pod's port over its own pods/portforward WebSocket. A dropped WebSocket closes
 * only that connection; the next connection opens a new one. When the pod is gone, connections
 * are closed at once (and the reason logged), so callers fail fast instead of hanging. A failure
 * the API server answered (an HTTP error, nothing listening) makes it read the pod: once the pod
 * is deleted or stopped, `podGone` says so with its last Events and no connection is tried again.
 */
export class PortForwarder {
  private server: Server | undefined;
  private readonly connections = new Set<Socket>();
  private readonly sockets = new Set<WebSocket>();
  /** Aborted by stop(): WebSockets still opening are destroyed too. */
  private running: AbortController | undefined;
  private stateNow: PortForwardState = 'connected';
  private gone: PodGoneError | undefined;

  constructor(private readonly options: PortForwarderOptions) {}

  get state(): PortForwardState {
    return this.stateNow;
  }

  /** Why the pod can no longer be reached, once it is known to be deleted or stopped. */
  get podGone(): PodGoneError | undefined {
    return this.gone;
  }

  private get logger(): Logger {
    return this.options.logger ?? silentLogger;
  }

  /** Starts listening; resolves with the local port. */
  async start(): Promise<number> {
    if (this.server) {
      return (this.server.address() as AddressInfo).port;
    }
    const server = createServer((socket) => this.forward(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.running = new AbortController();
    const { port } = server.address() as AddressInfo;
    this.logger.info(
      `forwarding 127.0.0.1:${port} to ${this.options.namespace}/${this.options.pod}:${this.options.remotePort}`,
    );
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.running?.abort(new PortForwardError('the port-forward was stopped'));
    this.running = undefined;
    for (const socket of this.sockets) {
      socket.terminate();
    }
    for (const connection of this.connections) {
      connection.destroy();
    }
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private forward(connection: Socket): void {
    this.connections.add(connection);
    // Kernel messages are small writes in bursts: with Nagle each one after the first would wait
    // for the client's delayed ACK (40 ms).
    connection.setNoDelay(true);
    // A connection that closes while its WebSocket opens takes the opening WebSocket with it.
    const closed = new AbortController();
    connection.once('close', () => {
      this.connections.delete(connection);
      closed.abort(new PortForwardError('the local connection closed'));
    });
    connection.on('error', () => undefined);
    if (this.gone) {
      connection.destroy();
      return;
    }
    connection.pause();
    const signal = this.running
      ? AbortSignal.any([this.running.signal, closed.signal])
      : closed.signal;
    void this.open(signal).then(
      (socket) => {
        this.setState('connected');
        this.pipe(connection, socket);
      },
      async (error: Error) => {
        if (!closed.signal.aborted) {
          this.logger.warn(`port-forward to ${this.options.pod}: ${error.message}`);
          // Settled before the connection closes, so its owner sees the outcome when it asks.
          await this.classifyFailure(error);
        }
        connection.destroy();
      },
    );
  }

  private setState(state: PortForwardState): void {
    if (this.stateNow !== state && this.stateNow !== 'gone') {
      this.stateNow = state;
      this.options.onStateChange?.(state, this.gone);
    }
  }

  /**
   * A failure the API server answered may mean the pod is gone: it is read to know. One where the
   * server could not be reached is a network lost: the next connection tries again.
   */
  private async classifyFailure(error: Error): Promise<void> {
    if (!(error instanceof KubernetesApiError)) {
      this.setState('reconnecting');
      return;
    }
    await this.checkPod();
  }

  private async checkPod(): Promise<void> {
    const lookup = this.options.podLookup;
    if (!lookup || this.gone) {
      return;
    }
    const { pod, namespace } = this.options;
    let found: V1Pod | undefined;
    try {
      found = await lookup.find(pod);
    } catch (error) {
      this.logger.debug(`cannot read pod ${pod}: ${(error as Error).message}`);
      this.setState('reconnecting');
      return;
    }
    const why = podGoneReason(found);
    if (!why || this.gone) {
      return;
    }
    this.gone = await podGoneError(lookup, namespace, pod, why);
    this.logger.warn(this.gone.message);
    this.setState('gone');
    for (const connection of this.connections) {
      connection.destroy();
    }
  }

  private open(signal: AbortSignal): Promise<WebSocket> {
    const { namespace, pod, remotePort } = this.options;
    return openKubernetesWebSocket({
      kubeConfig: this.options.kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward?ports=${remotePort}`,
      protocols: [portForwardProtocol],
      action: `port-forward to pod ${pod}`,
      connectionError: (detail) =>
        new PortForwardError(`port-forward to pod ${pod} failed: ${detail}`),
      signal,
      ...(this.options.webSocketFactory ? { webSocketFactory: this.options.webSocketFactory } : {}),
    });
  }

  private pipe(connection: Socket, socket: WebSocket): void {
    if (connection.destroyed) {
      socket.terminate();
      return;
    }
    this.sockets.add(socket);
    const seenPrefix = [false, false];
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) {
        return;
      }
      const channel = data[0]!;
      let payload = data.subarray(1);
      if (channel < 2 && !seenPrefix[channel]) {
        // The first two bytes on each channel carry the port number.
        seenPrefix[channel] = true;
        payload = payload.subarray(2);
      }
      if (payload.length === 0) {
        return;
      }
      if (channel === 0) {
        if (!connection.write(payload)) {
          socket.pause();
          connection.once('drain', () => socket.resume());
        }
      } else if (channel === 1) {
        this.logger.warn(`port-forward to pod ${this.options.pod}: ${payload.toString()}`);
        // Nothing listening: the pod may have stopped or be shutting down.
        void this.checkPod().finally(() => connection.destroy());
      }
    });
    connection.on('data', (chunk: Buffer) => {
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(Buffer.concat([Buffer.from([0]), chunk]));
      }
    });
    socket.once('close', () => {
      this.sockets.delete(socket);
      connection.end();
    });
    connection.once('close', () => socket.close());
    connection.resume();
    socket.resume();
  }
}
