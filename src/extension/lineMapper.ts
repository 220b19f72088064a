/**
 * Rewrites streamed text a whole line at a time: the unfinished last line is held until its end
 * arrives (or `flush`), so a path that one chunk splits from the next is still seen whole.
 */
export class LineMapper {
  private partial = '';

  constructor(private readonly map: (text: string) => string) {}

  /** The finished lines of `partial + text`, mapped; the rest is held. */
  write(text: string): string {
    const joined = this.partial + text;
    const end = Math.max(joined.lastIndexOf('\n'), joined.lastIndexOf('\r')) + 1;
    this.partial = joined.slice(end);
    return end > 0 ? this.map(joined.slice(0, end)) : '';
  }

  /** The held line, mapped (the stream has ended). */
  flush(): string {
    const rest = this.partial;
    this.partial = '';
    return rest ? this.map(rest) : '';
  }
}

/** One LineMapper per output stream, so stdout and stderr lines never mix. */
export class StreamLineMappers<S extends string> {
  private readonly mappers = new Map<S, LineMapper>();

  constructor(private readonly map: (text: string) => string) {}

  write(stream: S, text: string): string {
    let mapper = this.mappers.get(stream);
    if (!mapper) {
      mapper = new LineMapper(this.map);
      this.mappers.set(stream, mapper);
    }
    return mapper.write(text);
  }

  /** Each stream's held line, mapped. */
  flush(): { stream: S; text: string }[] {
    return [...this.mappers]
      .map(([stream, mapper]) => ({ stream, text: mapper.flush() }))
      .filter(({ text }) => text !== '');
  }
}
