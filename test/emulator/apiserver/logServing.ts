import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kubelet } from '../kubelet/kubelet.ts';
import type { TrackedStream } from './apiServer.ts';
import { queryFlag, type ResourceRequest } from './requestRouting.ts';

/** What log serving needs from the server: the kubelet's logs, and stream tracking for faults. */
export interface LogServer {
  kubelet: Kubelet;
  track(stream: TrackedStream): void;
}

/**
 * Serves `pods/NAME/log` as the kubelet does: tailLines, sinceSeconds/sinceTime, limitBytes,
 * timestamps, previous, and follow (streaming until the container ends).
 */
export function serveLog(
  req: IncomingMessage,
  res: ServerResponse,
  request: ResourceRequest,
  query: URLSearchParams,
  server: LogServer,
): void {
  const tailLines = query.get('tailLines');
  const sinceSeconds = query.get('sinceSeconds');
  const sinceTime = query.get('sinceTime');
  const limitBytes = query.get('limitBytes');
  const timestamps = queryFlag(query, 'timestamps');
  const container = query.get('container');
  const { lines, live } = server.kubelet.logs(request.namespace ?? '', request.name ?? '', {
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
  server.track({
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
