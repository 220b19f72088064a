import { EventEmitter } from 'node:events';

export interface LogLine {
  time: Date;
  text: string;
}

const maxBytes = 10 * 1024 * 1024;

/**
 * One container run's log, as the kubelet keeps it: lines with their arrival time, rotated at
 * 10 MiB (oldest lines dropped), followable until the container ends.
 */
export class ContainerLog extends EventEmitter<{ line: [LogLine]; end: [] }> {
  private readonly lines: LogLine[] = [];
  private partial = '';
  private bytes = 0;
  private ended = false;

  write(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) {
      this.push(`${part}\n`);
    }
  }

  end(): void {
    if (this.ended) {
      return;
    }
    if (this.partial) {
      this.push(this.partial);
      this.partial = '';
    }
    this.ended = true;
    this.emit('end');
  }

  get isEnded(): boolean {
    return this.ended;
  }

  snapshot(options: { tailLines?: number; sinceTime?: Date }): LogLine[] {
    let lines = this.lines;
    if (options.sinceTime) {
      const since = options.sinceTime.getTime();
      lines = lines.filter((line) => line.time.getTime() >= since);
    }
    if (options.tailLines !== undefined) {
      lines = options.tailLines === 0 ? [] : lines.slice(-options.tailLines);
    }
    return [...lines];
  }

  private push(text: string): void {
    const line = { time: new Date(), text };
    this.lines.push(line);
    this.bytes += text.length;
    while (this.bytes > maxBytes && this.lines.length > 1) {
      this.bytes -= this.lines.shift()!.text.length;
    }
    this.emit('line', line);
  }
}
