/** How long an unfinished line waits for its end before it is shown as it is (a prompt, dots). */
export const idleFlushMs = 80;

/** The most of an unfinished line held back: far longer than any path, bounded for a huge line. */
export const maxHeldChars = 4096;

/**
 * Rewrites streamed text a whole line at a time, so a path that one chunk splits from the next
 * is still seen whole. The unfinished last line is held until its end arrives, `flush`, or
 * `idleFlushMs` pass; of a line longer than `maxHeldChars` only its last `maxHeldChars` wait.
 * Each write costs only its own length.
 */
export class LineMapper {
  private held = '';
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly map: (text: string) => string,
    private readonly emit: (text: string) => void,
  ) {}

  write(text: string): void {
    const lineEnd = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r')) + 1;
    let ready = '';
    if (lineEnd > 0) {
      ready = this.held + text.slice(0, lineEnd);
      this.held = text.slice(lineEnd);
    } else {
      this.held += text;
    }
    const overflow = this.held.length - maxHeldChars;
    if (overflow > 0) {
      ready += this.held.slice(0, overflow);
      this.held = this.held.slice(overflow);
    }
    if (ready) {
      this.emit(this.map(ready));
    }
    if (this.held && !this.idleTimer) {
      this.idleTimer = setTimeout(() => this.flush(), idleFlushMs);
    }
  }

  /** Emits the held line, mapped (the stream has ended, paused, or another output comes). */
  flush(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const rest = this.held;
    this.held = '';
    if (rest) {
      this.emit(this.map(rest));
    }
  }
}

/** One LineMapper per output stream, so stdout and stderr lines never mix. */
export class StreamLineMappers<S extends string> {
  private readonly mappers = new Map<S, LineMapper>();

  constructor(
    private readonly map: (text: string) => string,
    private readonly emit: (stream: S, text: string) => void,
  ) {}

  write(stream: S, text: string): void {
    let mapper = this.mappers.get(stream);
    if (!mapper) {
      mapper = new LineMapper(this.map, (mapped) => this.emit(stream, mapped));
      this.mappers.set(stream, mapper);
    }
    mapper.write(text);
  }

  /** Emits each stream's held line, mapped. */
  flush(): void {
    this.mappers.forEach((mapper) => mapper.flush());
  }
}
