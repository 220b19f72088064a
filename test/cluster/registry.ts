import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** `repository:tag` (e.g. `library/python:3-slim`) to the digest of its manifest. */
export type TagTable = Map<string, { digest: string; mediaType: string }>;

export interface LocalRegistry {
  url: string;
  close(): Promise<void>;
}

const manifestPath = /^\/v2\/(.+)\/manifests\/([^/]+)$/;
const blobPath = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/;

/**
 * A read-only registry (distribution API v2, no auth) serving the blobs of an OCI layout
 * directory: enough for containerd to pull through a mirror on 127.0.0.1.
 */
export async function startLocalRegistry(blobDir: string, tags: TagTable): Promise<LocalRegistry> {
  const server = createServer((request, response) => serve(request, response, blobDir, tags));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function serve(
  request: IncomingMessage,
  response: ServerResponse,
  blobDir: string,
  tags: TagTable,
): void {
  const path = new URL(request.url ?? '/', 'http://registry').pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405).end();
    return;
  }
  response.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  if (path === '/v2/' || path === '/v2') {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    return;
  }
  const manifest = manifestPath.exec(path);
  if (manifest) {
    const [, repository, reference] = manifest as unknown as [string, string, string];
    const tagged = tags.get(`${repository}:${reference}`);
    const byDigest = [...tags.values()].find((entry) => entry.digest === reference);
    const entry = tagged ?? byDigest;
    if (!entry) {
      notFound(response, 'MANIFEST_UNKNOWN');
      return;
    }
    sendBlob(request, response, blobDir, entry.digest, entry.mediaType);
    return;
  }
  const blob = blobPath.exec(path);
  if (blob) {
    sendBlob(request, response, blobDir, blob[2] ?? '', 'application/octet-stream');
    return;
  }
  notFound(response, 'NAME_UNKNOWN');
}

function sendBlob(
  request: IncomingMessage,
  response: ServerResponse,
  blobDir: string,
  digest: string,
  contentType: string,
): void {
  const file = join(blobDir, digest.replace(':', '/'));
  if (!existsSync(file)) {
    notFound(response, 'BLOB_UNKNOWN');
    return;
  }
  response.writeHead(200, {
    'content-type': contentType,
    'content-length': statSync(file).size,
    'docker-content-digest': digest,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(file).pipe(response);
}

function notFound(response: ServerResponse, code: string): void {
  response
    .writeHead(404, { 'content-type': 'application/json' })
    .end(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace('_', ' ') }] }));
}
