import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../core/index.ts';
import { isLoopback, type McpServerConfig } from './cliArguments.ts';
import type { SessionStore } from './sessions.ts';

/** Request bodies larger than this are refused with 413 before they are parsed. */
export const maxBodyBytes = 1024 * 1024;

export interface HttpMcpServer {
  /** The port actually bound (useful with --port 0). */
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Streamable HTTP at /mcp and the older SSE transport at /sse (+ /messages), one session runner per
 * MCP session. Every request passes the Host/Origin check (DNS rebinding) and, with a token, the
 * bearer check before anything else.
 */
export async function startHttpServer(
  config: McpServerConfig,
  sessions: SessionStore,
  logger: Logger,
): Promise<HttpMcpServer> {
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();
  let port = config.port;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    checkHostAndOrigin(req, config.host, port);
    checkToken(req, config.token);
    if (url.pathname === '/mcp') {
      const body = req.method === 'POST' ? await readJsonBody(req) : undefined;
      const sessionId = req.headers['mcp-session-id'];
      const existing = typeof sessionId === 'string' ? streamable.get(sessionId) : undefined;
      if (existing) {
        await existing.handleRequest(req, res, body);
        return;
      }
      if (sessionId !== undefined) {
        throw new HttpError(404, 'unknown MCP session');
      }
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        throw new HttpError(400, 'the first request of a session must be an initialize request');
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => void streamable.set(id, transport),
      });
      transport.onclose = () => {
        if (transport.sessionId !== undefined) {
          streamable.delete(transport.sessionId);
        }
      };
      await sessions.open(transport);
      await transport.handleRequest(req, res, body);
      return;
    }
    if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      sse.set(transport.sessionId, transport);
      transport.onclose = () => sse.delete(transport.sessionId);
      await sessions.open(transport);
      return;
    }
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = sse.get(url.searchParams.get('sessionId') ?? '');
      if (!transport) {
        throw new HttpError(404, 'unknown SSE session');
      }
      await transport.handlePostMessage(req, res, await readJsonBody(req));
      return;
    }
    throw new HttpError(404, 'not found: MCP is served at /mcp (Streamable HTTP) and /sse (SSE)');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (status === 500) {
        logger.error(`HTTP ${req.method ?? ''} ${req.url ?? ''}: ${message}`);
      }
      if (!res.headersSent) {
        res.writeHead(status, {
          'Content-Type': 'application/json',
          ...(status === 401 && { 'WWW-Authenticate': 'Bearer' }),
          // A refused body is not read: the client must not keep sending it.
          ...(status === 413 && { Connection: 'close' }),
        });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  logger.info(`serving MCP at http://${hostForUrl(config.host)}:${port}/mcp and /sse`);
  return {
    port,
    async close() {
      const transports: Transport[] = [...streamable.values(), ...sse.values()];
      await Promise.all(transports.map((transport) => transport.close()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const wildcardHosts = new Set(['0.0.0.0', '::', '']);

/**
 * A browser page on another site that resolves its own name to this address (DNS rebinding)
 * sends its own Host, and its Origin: both must name this server.
 */
function checkHostAndOrigin(req: IncomingMessage, boundHost: string, port: number): void {
  const host = req.headers.host?.toLowerCase();
  if (!host) {
    throw new HttpError(403, 'the Host header is missing');
  }
  // Bound to every address, the name clients use is unknown; the required token protects it.
  if (!wildcardHosts.has(boundHost)) {
    const names = isLoopback(boundHost)
      ? [boundHost, '127.0.0.1', 'localhost', '[::1]']
      : [hostForUrl(boundHost)];
    const allowed = names.map((name) => `${name.toLowerCase()}:${port}`);
    if (!allowed.includes(host)) {
      throw new HttpError(403, `Host "${host}" is not this server (expected ${allowed[0]})`);
    }
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      originHost = undefined;
    }
    // new URL() drops a default port; Host keeps the one the client used.
    if (originHost === undefined || (originHost !== host && `${originHost}:80` !== host)) {
      throw new HttpError(403, `Origin "${origin}" is not this server`);
    }
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compared as digests, so the time taken says nothing about the token or its length. */
function checkToken(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) {
    return;
  }
  const given = req.headers.authorization ?? '';
  if (!timingSafeEqual(digest(given), digest(`Bearer ${token}`))) {
    throw new HttpError(401, 'a valid "Authorization: Bearer <token>" header is required');
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBodyBytes) {
    throw new HttpError(413, `the request body is larger than ${maxBodyBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) {
      throw new HttpError(413, `the request body is larger than ${maxBodyBytes} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}
