import type { IncomingMessage, ServerResponse } from 'node:http';
import { load as loadYaml } from 'js-yaml';
import { ApiError, badRequest } from '../apiErrors.ts';
import { decodeProtobufBody, protobufContentType } from './protobuf/body.ts';

/** Reading request bodies and writing JSON replies and Status errors, as the apiserver does. */

const maxBodyBytes = 8 * 1024 * 1024;

export function statusText(code: number): string {
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

export function sendJson(
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

export function sendReply(res: ServerResponse, reply: { code: number; body: unknown }): void {
  sendJson(res, reply.code, reply.body);
}

export function sendError(res: ServerResponse, error: unknown): void {
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

export async function readBody(req: IncomingMessage, optional = false): Promise<unknown> {
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
