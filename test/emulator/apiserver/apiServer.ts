import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, badRequest, forbidden, unauthorized } from '../apiErrors.ts';
import type { Authorizer, EmulatorUser } from './authorization.ts';
import type { ServingCertificates } from './certificates.ts';
import { discoveryDocument } from './discovery.ts';
import type { RequestFailures } from './faults.ts';
import type { Kubelet } from '../kubelet/kubelet.ts';
import type { KubeObject, ObjectStore } from '../store/objectStore.ts';
import { queryFlag, routeResourceRequest, type ResourceRequest } from './requestRouting.ts';
import type { Reply, ResourceApi } from './resourceApi.ts';
import { selectStreamProtocol, serveExec, servePortForward } from '../kubelet/streamingChannels.ts';
import { asTable, wantsTable } from './tableView.ts';
import { readBody, sendError, sendJson, sendReply, statusText } from './httpReplies.ts';
import { serveLog, type LogServer } from './logServing.ts';
import { serveWatch, type WatchServer } from './watchServing.ts';

const publicPaths = new Set(['/version', '/healthz', '/livez', '/readyz']);

export interface ApiServerOptions {
  store: ObjectStore;
  resources: ResourceApi;
  kubelet: Kubelet;
  authorizer: Authorizer;
  failures: RequestFailures;
  certificates: ServingCertificates;
  /** The exec/port-forward subprotocols served, newest first (to emulate older kubelets). */
  streamProtocols: readonly string[];
}

/** A connection that a fault can cut: exec, port-forward, log and watch streams, by pod. */
export interface TrackedStream {
  namespace: string;
  pod: string | undefined;
  resource: string;
  socket: Duplex;
}

/**
 * The HTTPS front of the emulator: authentication, RBAC, discovery, REST, watch, logs and the
 * exec/port-forward WebSocket upgrades, all answering with the apiserver's Status errors.
 */
export class ApiServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<TrackedStream>();
  private readonly webSockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (offered) => selectStreamProtocol(offered, this.options.streamProtocols),
  });
  private port = 0;

  /** What the watch and log handlers use of this server. */
  private readonly streamServer: WatchServer & LogServer;

  constructor(private readonly options: ApiServerOptions) {
    this.streamServer = {
      store: options.store,
      resources: options.resources,
      kubelet: options.kubelet,
      track: (stream) => this.track(stream),
    };
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async listen(port: number): Promise<void> {
    const server = createServer(
      { cert: this.options.certificates.certPem, key: this.options.certificates.keyPem },
      (req, res) => {
        void this.handle(req, res);
      },
    );
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
  }

  /** Closes the listener and cuts every open connection, as a crashed apiserver would. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.streams.clear();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Destroys the TCP connections of every exec, port-forward and watch stream of one pod. */
  dropStreams(namespace: string, pod: string): number {
    let dropped = 0;
    for (const stream of [...this.streams]) {
      if (
        stream.namespace === namespace &&
        (stream.pod === pod || (stream.pod === undefined && stream.resource === 'pods'))
      ) {
        stream.socket.destroy();
        this.streams.delete(stream);
        dropped++;
      }
    }
    return dropped;
  }

  private track(stream: TrackedStream): void {
    this.streams.add(stream);
    stream.socket.once('close', () => this.streams.delete(stream));
  }

  private authenticate(req: IncomingMessage, path: string): EmulatorUser | undefined {
    const header = req.headers.authorization;
    if (!header && publicPaths.has(path)) {
      return undefined;
    }
    const user = this.options.authorizer.authenticate(header);
    if (!user) {
      throw unauthorized();
    }
    return user;
  }

  private authorize(user: EmulatorUser, request: ResourceRequest): void {
    const attributes = {
      verb: request.verb,
      group: request.type.group,
      resource: request.type.resource,
      ...(request.subresource ? { subresource: request.subresource } : {}),
      ...(request.namespace ? { namespace: request.namespace } : {}),
      ...(request.name ? { name: request.name } : {}),
    };
    if (!this.options.authorizer.allowed(user, attributes)) {
      throw forbidden({ user: user.name, ...attributes });
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'https://emulator');
      const user = this.authenticate(req, url.pathname);
      const simple = discoveryDocument(req.method, url, `127.0.0.1:${this.port}`);
      if (simple !== undefined) {
        if (typeof simple === 'string') {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(simple);
        } else {
          sendJson(res, 200, simple);
        }
        return;
      }
      const request = routeResourceRequest(req.method ?? 'GET', url.pathname, url.searchParams);
      if (!request || !user) {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {
          causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }],
        });
      }
      this.authorize(user, request);
      const resourceName = request.subresource
        ? `${request.type.resource}/${request.subresource}`
        : request.type.resource;
      const injected = this.options.failures.take(request.verb, resourceName);
      if (injected) {
        throw injected;
      }
      await this.serveResource(req, res, url, request, user);
    } catch (error) {
      sendError(res, error);
    }
  }

  private async serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    request: ResourceRequest,
    user: EmulatorUser,
  ): Promise<void> {
    const { resources } = this.options;
    const query = url.searchParams;
    if (
      request.subresource === 'exec' ||
      request.subresource === 'portforward' ||
      request.subresource === 'attach'
    ) {
      throw badRequest('Upgrade request required');
    }
    if (request.subresource === 'log') {
      serveLog(req, res, request, query, this.streamServer);
      return;
    }
    switch (request.verb) {
      case 'list':
        return sendReply(res, this.printed(req, request, query, resources.list(request, query)));
      case 'watch':
        return serveWatch(req, res, request, query, this.streamServer);
      case 'get':
        return sendReply(res, this.printed(req, request, query, resources.get(request)));
      case 'create':
        return sendReply(res, resources.create(request, await readBody(req), query, user));
      case 'update':
        return sendReply(res, resources.update(request, await readBody(req), query));
      case 'patch':
        return sendReply(
          res,
          resources.patch(request, await readBody(req), req.headers['content-type'] ?? '', query),
        );
      case 'delete':
        return sendReply(res, resources.delete(request, await readBody(req, true), query));
      case 'deletecollection':
        return sendReply(
          res,
          resources.deleteCollection(request, await readBody(req, true), query),
        );
      default:
        throw badRequest(`unsupported verb ${request.verb}`);
    }
  }

  /** A list or object as a Table when the client asks for server-side printing (kubectl does). */
  private printed(
    req: IncomingMessage,
    request: ResourceRequest,
    query: URLSearchParams,
    reply: Reply,
  ): Reply {
    if (!wantsTable(req.headers.accept)) {
      return reply;
    }
    const body = reply.body as { items?: KubeObject[]; metadata?: { resourceVersion?: string } };
    const objects = request.verb === 'list' ? (body.items ?? []) : [reply.body as KubeObject];
    return {
      code: reply.code,
      body: asTable(
        request.type,
        objects,
        request.verb === 'list' ? body.metadata?.resourceVersion : undefined,
        query.get('includeObject'),
      ),
    };
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The HTTP server stops handling this socket's errors at the upgrade: a client that resets
    // the connection while it is refused must not take the apiserver down.
    socket.on('error', () => socket.destroy());
    try {
      const url = new URL(req.url ?? '/', 'https://emulator');
      const user = this.authenticate(req, url.pathname);
      const request = routeResourceRequest('POST', url.pathname, url.searchParams);
      if (
        !user ||
        !request ||
        (request.subresource !== 'exec' && request.subresource !== 'portforward')
      ) {
        throw badRequest('WebSocket upgrades are served for pods/exec and pods/portforward only');
      }
      this.authorize(user, { ...request, verb: 'create' });
      const injected = this.options.failures.take('create', `pods/${request.subresource}`);
      if (injected) {
        throw injected;
      }
      const namespace = request.namespace ?? '';
      const name = request.name ?? '';
      const query = url.searchParams;
      const offered = parseProtocols(req.headers['sec-websocket-protocol']);
      if (
        offered.size > 0 &&
        selectStreamProtocol(offered, this.options.streamProtocols) === false
      ) {
        throw badRequest(
          `unable to upgrade: none of the offered subprotocols (${[...offered].join(', ')}) is supported`,
        );
      }
      if (request.subresource === 'exec') {
        const argv = query.getAll('command');
        if (argv.length === 0) {
          throw badRequest('you must specify at least 1 command');
        }
        const streams = {
          stdin: queryFlag(query, 'stdin'),
          stdout: queryFlag(query, 'stdout'),
          stderr: queryFlag(query, 'stderr'),
          tty: queryFlag(query, 'tty'),
        };
        if (!streams.stdin && !streams.stdout && !streams.stderr) {
          throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
        }
        const { process } = this.options.kubelet.exec(
          namespace,
          name,
          query.get('container') ?? undefined,
          argv,
          streams.tty,
        );
        this.webSockets.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          this.track({ namespace, pod: name, resource: 'pods/exec', socket });
          serveExec(ws, ws.protocol || 'channel.k8s.io', streams, process, argv);
        });
        return;
      }
      const ports = query
        .getAll('ports')
        .flatMap((value) => value.split(','))
        .map(Number);
      if (
        ports.length === 0 ||
        ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65535)
      ) {
        throw badRequest(
          'query parameter "ports" is required and must be a list of ports from 1 to 65535',
        );
      }
      this.options.kubelet.assertSandbox(namespace, name);
      this.webSockets.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        this.track({ namespace, pod: name, resource: 'pods/portforward', socket });
        servePortForward(ws, ports, (port) => this.options.kubelet.connect(namespace, name, port));
      });
    } catch (error) {
      const apiError =
        error instanceof ApiError ? error : new ApiError(500, 'InternalError', String(error));
      const body = JSON.stringify(apiError.toStatus());
      socket.end(
        `HTTP/1.1 ${apiError.code} ${statusText(apiError.code)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
  }
}

function parseProtocols(header: string | undefined): Set<string> {
  return new Set(
    (header ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  );
}
