import { Backoff, type BackoffPolicy } from './backoff.ts';
import { OptionError } from './errors.ts';

/** Where a Jupyter server (or kernel gateway) answers, as the executor reaches it. */
export interface PodJupyterConnectionInfo {
  /** Host name or address, or a URL (`https://host/base/path`). */
  host: string;
  port?: number;
  /** Empty or undefined: no authentication. */
  token?: string;
  /** Path under which the server's API lives (`/base/path`). */
  basePath?: string;
  /** https/wss instead of http/ws. Default: from the host URL, else false. */
  secure?: boolean;
  /**
   * Why the server can never be reached again (its pod was deleted), once that is known; a
   * connection being retried gives up with this error instead of trying until its deadline.
   */
  permanentFailure?: () => Error | undefined;
}

/**
 * The server's base URL, without a trailing slash. A host URL keeps its path and gets the port
 * in the authority (`https://h/p` + 443 → `https://h:443/p`), fixing the seed's `https://h/p:443`.
 * The port is written even when it is the scheme's default.
 */
export function jupyterBaseUrl(info: PodJupyterConnectionInfo): string {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(info.host);
  let url: URL;
  try {
    url = new URL(hasScheme ? info.host : `${info.secure ? 'https' : 'http'}://${info.host}`);
  } catch {
    throw new OptionError('host', `"${info.host}" is not a host name or URL`);
  }
  const protocol = info.secure === undefined ? url.protocol : info.secure ? 'https:' : 'http:';
  let port = url.port;
  if (info.port !== undefined) {
    if (!Number.isInteger(info.port) || info.port < 1 || info.port > 65535) {
      throw new OptionError(
        'port',
        `must be a port number from 1 to 65535, got ${String(info.port)}`,
      );
    }
    port = String(info.port);
  }
  const path = [url.pathname, info.basePath ?? '']
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/');
  return `${protocol}//${url.hostname}${port ? `:${port}` : ''}${path ? `/${path}` : ''}`;
}

/** `http(s)://host:port/base` + path. */
export function jupyterApiUrl(info: PodJupyterConnectionInfo, path: string): string {
  return `${jupyterBaseUrl(info)}${path}`;
}

/** `ws(s)://host:port/base` + path. */
export function jupyterWebSocketUrl(info: PodJupyterConnectionInfo, path: string): string {
  return jupyterApiUrl(info, path).replace(/^http/, 'ws');
}

export function authorizationHeaders(info: PodJupyterConnectionInfo): Record<string, string> {
  return info.token ? { Authorization: `token ${info.token}` } : {};
}

/** A lost connection is tried again 400 ms to 5 s apart. */
const reconnectPolicy: BackoffPolicy = { initialDelayMs: 400, maxDelayMs: 5_000 };
const defaultReconnectWindowMs = 10 * 60_000;

/**
 * The waits of a connection to a Jupyter server being tried again: for up to `windowMs` (default
 * ten minutes, to ride out a network loss or a laptop's sleep), not for ever; none once `signal`
 * aborts.
 */
export function reconnectionBackoff(
  signal: AbortSignal,
  windowMs = defaultReconnectWindowMs,
): Backoff {
  return new Backoff({ ...reconnectPolicy, windowMs }, signal);
}
