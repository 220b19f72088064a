import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest, gone } from '../apiErrors.ts';
import type { KubeObject, ObjectStore, StoredEvent } from '../store/objectStore.ts';
import type { ResourceRequest } from './requestRouting.ts';
import type { ResourceApi } from './resourceApi.ts';
import type { TrackedStream } from './apiServer.ts';
import { asTable, wantsTable } from './tableView.ts';

/** What a watch needs from the server: the store, the REST filters, and stream tracking for faults. */
export interface WatchServer {
  store: ObjectStore;
  resources: ResourceApi;
  track(stream: TrackedStream): void;
}

/** Streams ADDED/MODIFIED/DELETED events as JSON lines, from a resourceVersion or with the current state first. */
export function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  request: ResourceRequest,
  query: URLSearchParams,
  server: WatchServer,
): void {
  const { store, resources } = server;
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
    res.write(`${JSON.stringify({ type: eventType, object: printedEvent(eventType, object) })}\n`);
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
  server.track({
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

function fieldSelectorName(query: URLSearchParams): string | undefined {
  return /(?:^|,)metadata\.name=([^,]+)/.exec(query.get('fieldSelector') ?? '')?.[1];
}
