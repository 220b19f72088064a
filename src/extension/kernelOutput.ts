import type { KernelOutputEvent, OutputStream } from '../core/index.ts';
import type { StreamLineMappers } from './lineMapper.ts';

/**
 * Writes a kernel output event with the pod's paths of synced folders shown as the local ones.
 * Stream text is mapped by whole lines; any other event first releases the lines held, to keep
 * the order.
 */
export function writeMapped(
  event: KernelOutputEvent,
  streams: StreamLineMappers<OutputStream>,
  toLocal: (text: string) => string,
  output: { write(event: KernelOutputEvent): void },
): void {
  if (event.type === 'stream') {
    streams.write(event.name, event.text);
    return;
  }
  streams.flush();
  output.write(
    event.type === 'error'
      ? { ...event, evalue: toLocal(event.evalue), traceback: event.traceback.map(toLocal) }
      : event,
  );
}
