import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { load as loadYaml } from 'js-yaml';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, badRequest, forbidden, gone, unauthorized } from '../apiErrors.ts';
import type { Authorizer, EmulatorUser } from './authorization.ts';
import type { ServingCertificates } from './certificates.ts';
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  openApiV2,
  openApiV3Document,
  openApiV3Index,
  serverVersion,
} from './discovery.ts';
import type { RequestFailures } from './faults.ts';
import type { Kubelet } from '../kubelet/kubelet.ts';
import type { KubeObject, ObjectStore, StoredEvent } from '../store/objectStore.ts';
import { decodeProtobufBody, protobufContentType } from './protobuf/body.ts';
import { queryFlag, routeResourceRequest, type ResourceRequest } from './requestRouting.ts';
import type { Reply, ResourceApi } from './resourceApi.ts';
import { selectStreamProtocol, serveExec, servePortForward } from '../kubelet/streamingChannels.ts';
import { asTable, wantsTable } from './tableView.ts';

const maxBodyBytes = 8 * 1024 * 1024;
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

/** A connection that a fault can cut: exec, port-forward and watch streams, by pod. */
interface TrackedStream {
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

  constructor(private readonly options: ApiServerOptions) {}

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
      const simple = this.simpleDocument(url, req);
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

  /** Discovery, version, health and OpenAPI documents; undefined for other paths. */
  private simpleDocument(url: URL, req: IncomingMessage): unknown {
    const path = url.pathname.replace(/\/$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return undefined;
    }
    const segments = path.split('/').filter(Boolean);
    switch (path) {
      case '/version':
        return serverVersion;
      case '/healthz':
      case '/livez':
      case '/readyz':
        return 'ok';
      case '/api':
        return apiVersions(`127.0.0.1:${this.port}`);
      case '/apis':
        return apiGroupList();
      case '/openapi/v2':
        return openApiV2();
      case '/openapi/v3':
        return openApiV3Index();
      default:
        break;
    }
    if (segments[0] === 'openapi' && segments[1] === 'v3') {
      const document = openApiV3Document(segments.slice(2).join('/'));
      if (document === undefined) {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      return document;
    }
    if (segments[0] === 'api' && segments.length === 2) {
      return apiResourceList('', segments[1]!);
    }
    if (segments[0] === 'apis' && segments.length === 2) {
      return apiGroup(segments[1]!);
    }
    if (segments[0] === 'apis' && segments.length === 3) {
      return apiResourceList(segments[1]!, segments[2]!);
    }
    return undefined;
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
      this.serveLog(req, res, request, query);
      return;
    }
    switch (request.verb) {
      case 'list':
        return sendReply(res, this.printed(req, request, query, resources.list(request, query)));
      case 'watch':
        return this.serveWatch(req, res, request, query);
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

  /** Streams ADDED/MODIFIED/DELETED events as JSON lines, from a resourceVersion or with the current state first. */
  private serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    request: ResourceRequest,
    query: URLSearchParams,
  ): void {
    const { store, resources } = this.options;
    const filter = resources.filter(request, query);
    const fromParam = query.get('resourceVersion');
    const type = request.type;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    // kubectl get -w asks for Tables: one row per event, the columns with the first one only.
    const printing = wantsTable(req.headers.accept);
    let columnsSent = false;
    const printedEvent = (eventType: string, object: unknown): unknown => {
      if (!printing || !['ADDED', 'MODIFIED', 'DELETED'].includes(eventType)) {
        return object;
      }
      const row = object as KubeObject;
      const table = asTable(type, [row], row.metadata.resourceVersion, query.get('includeObject'));
      if (columnsSent) {
        table.columnDefinitions = [];
      }
      columnsSent = true;
      return table;
    };
    const send = (eventType: string, object: unknown) =>
      res.write(
        `${JSON.stringify({ type: eventType, object: printedEvent(eventType, object) })}\n`,
      );
    let from: number;
    if (!fromParam || fromParam === '0') {
      for (const object of store.list(type, filter.namespace).filter(filter.matches)) {
        send('ADDED', object);
      }
      from = Number(store.currentResourceVersion);
    } else {
      from = Number(fromParam);
      if (!Number.isInteger(from)) {
        send('ERROR', badRequest(`invalid resource version: ${fromParam}`).toStatus());
        res.end();
        return;
      }
    }
    const name = request.name;
    const matches = (object: KubeObject | undefined) =>
      object !== undefined &&
      filter.matches(object) &&
      (name === undefined || object.metadata.name === name);
    let unsubscribe: () => void = () => undefined;
    try {
      unsubscribe = store.subscribe(from, (event: StoredEvent) => {
        if (event.resource !== type.resource) {
          return;
        }
        const now = matches(event.object);
        const before = matches(event.previous);
        if (event.type === 'MODIFIED') {
          if (now && before) {
            send('MODIFIED', event.object);
          } else if (now) {
            send('ADDED', event.object);
          } else if (before) {
            send('DELETED', event.object);
          }
        } else if (now) {
          send(event.type, event.object);
        }
      });
    } catch (error) {
      send('ERROR', (error instanceof ApiError ? error : gone(String(error))).toStatus());
      res.end();
      return;
    }
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 1800);
    const timer = setTimeout(() => res.end(), timeoutSeconds * 1000);
    const podName = type.resource === 'pods' ? (name ?? fieldSelectorName(query)) : undefined;
    this.track({
      namespace: filter.namespace ?? '',
      pod: podName,
      resource: type.resource,
      socket: req.socket,
    });
    const finish = () => {
      clearTimeout(timer);
      unsubscribe();
    };
    res.once('close', finish);
    req.socket.once('close', finish);
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

  private serveLog(
    req: IncomingMessage,
    res: ServerResponse,
    request: ResourceRequest,
    query: URLSearchParams,
  ): void {
    const tailLines = query.get('tailLines');
    const sinceSeconds = query.get('sinceSeconds');
    const sinceTime = query.get('sinceTime');
    const limitBytes = query.get('limitBytes');
    const timestamps = queryFlag(query, 'timestamps');
    const container = query.get('container');
    const { lines, live } = this.options.kubelet.logs(request.namespace ?? '', request.name ?? '', {
      ...(container ? { container } : {}),
      previous: queryFlag(query, 'previous'),
      ...(tailLines !== null ? { tailLines: Math.max(0, Number(tailLines)) } : {}),
      ...(sinceSeconds !== null
        ? { sinceTime: new Date(Date.now() - Number(sinceSeconds) * 1000) }
        : sinceTime !== null
          ? { sinceTime: new Date(sinceTime) }
          : {}),
    });
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    let budget = limitBytes !== null ? Number(limitBytes) : Infinity;
    const write = (line: { time: Date; text: string }) => {
      if (budget <= 0) {
        return;
      }
      const text = timestamps
        ? `${line.time.toISOString().replace('Z', '000000Z')} ${line.text}`
        : line.text;
      const chunk = Buffer.from(text).subarray(0, budget);
      budget -= chunk.length;
      res.write(chunk);
    };
    lines.forEach(write);
    if (!queryFlag(query, 'follow') || !live) {
      res.end();
      return;
    }
    const onEnd = () => res.end();
    live.on('line', write);
    live.once('end', onEnd);
    this.track({
      namespace: request.namespace ?? '',
      pod: request.name,
      resource: 'pods/log',
      socket: req.socket,
    });
    res.once('close', () => {
      live.off('line', write);
      live.off('end', onEnd);
    });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
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

function fieldSelectorName(query: URLSearchParams): string | undefined {
  return /(?:^|,)metadata\.name=([^,]+)/.exec(query.get('fieldSelector') ?? '')?.[1];
}

function statusText(code: number): string {
  return (
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      429: 'Too Many Requests',
      500: 'Internal Server Error',
    }[code] ?? 'Error'
  );
}

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendReply(res: ServerResponse, reply: { code: number; body: unknown }): void {
  sendJson(res, reply.code, reply.body);
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const apiError =
    error instanceof ApiError
      ? error
      : new ApiError(500, 'InternalError', `Internal error occurred: ${String(error)}`);
  sendJson(res, apiError.code, apiError.toStatus(), apiError.headers);
}

async function readBody(req: IncomingMessage, optional = false): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) {
      throw new ApiError(
        413,
        'RequestEntityTooLarge',
        'Request entity too large: limit is 3145728',
      );
    }
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const text = raw.toString('utf8');
  if (!text.trim()) {
    if (optional) {
      return undefined;
    }
    throw badRequest('the body of the request was empty');
  }
  const contentType = req.headers['content-type'] ?? 'application/json';
  if (contentType.startsWith(protobufContentType)) {
    return decodeProtobufBody(raw);
  }
  try {
    return contentType.includes('yaml') ? loadYaml(text) : JSON.parse(text);
  } catch (error) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`);
  }
}
