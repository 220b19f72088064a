import { connect, createServer, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A TCP proxy on 127.0.0.1 in front of a server, that can be told to stop answering: after
 * `stall()` it still accepts connections but forwards nothing, in either direction, on new or
 * open ones, and closes none of them; the client sees a server that hangs. `resume()` lets new
 * connections through again (stalled ones stay stalled until `close()`).
 */
export interface StallingProxy {
  readonly port: number;
  /** Connections accepted since `stall()`, each held open and unanswered. */
  readonly heldConnections: number;
  stall(): void;
  resume(): void;
  /** Rewrites a server URL (https://host:port/...) to go through the proxy. */
  urlFor(serverUrl: string): string;
  close(): Promise<void>;
}

export async function startStallingProxy(target: {
  host: string;
  port: number;
}): Promise<StallingProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let stalled = false;
  let held = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    if (stalled) {
      held++;
      client.pause();
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const unpair = () => pairs.delete(pair);
    client.once('close', () => {
      unpair();
      upstream.destroy();
    });
    upstream.once('close', () => {
      unpair();
      client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    get heldConnections() {
      return held;
    },
    stall() {
      stalled = true;
      held = 0;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    resume() {
      stalled = false;
    },
    urlFor(serverUrl) {
      const url = new URL(serverUrl);
      url.host = `127.0.0.1:${port}`;
      return url.toString().replace(/\/$/, '');
    },
    async close() {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A stalling proxy in front of an emulator, and the emulator's kubeconfig pointed through it. */
export async function stallingProxyFor(emulator: {
  url: string;
  kubeconfigPath: string;
}): Promise<{ proxy: StallingProxy; kubeConfig: KubeConfig }> {
  const server = new URL(emulator.url);
  const proxy = await startStallingProxy({ host: server.hostname, port: Number(server.port) });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(emulator.kubeconfigPath);
  kubeConfig.loadFromOptions({
    clusters: kubeConfig.clusters.map((cluster) => ({
      ...cluster,
      server: proxy.urlFor(cluster.server),
    })),
    users: kubeConfig.users,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
  });
  return { proxy, kubeConfig };
}
