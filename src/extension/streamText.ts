/** What one piece of stream text changes in the rendered text. */
export interface RenderedText {
  /**
   * False: `text` is appended to what was rendered before. True: the text rewrote the line that
   * was unfinished before it (a carriage return or backspace), and `text` replaces that line from
   * its start.
   */
  rewound: boolean;
  text: string;
}

/**
 * Applies terminal control characters to stream text as it arrives, as Jupyter front ends do: a
 * carriage return rewinds to the start of the line, a backspace deletes the character before it.
 * Only the unfinished last line is kept, so each piece costs its own length plus that line's,
 * never the length of everything before it.
 */
export class StreamTextRenderer {
  /** The unfinished last line, one code point per entry. */
  private line: string[] = [];
  private cursor = 0;
  /** Characters read and written so far: what rendering has cost. */
  work = 0;

  write(text: string): RenderedText {
    const [first = '', ...rest] = text.split('\n');
    const rewound =
      this.line.length > 0 && (this.cursor < this.line.length || /[\r\b]/.test(first));
    const start = rewound ? 0 : this.line.length;
    this.apply(first);
    let rendered = this.take(start);
    for (const line of rest) {
      this.line = [];
      this.cursor = 0;
      this.apply(line);
      rendered += `\n${this.take(0)}`;
    }
    return { rewound, text: rendered };
  }

  private apply(text: string): void {
    this.work += text.length;
    for (const char of text) {
      if (char === '\r') {
        this.cursor = 0;
      } else if (char === '\b') {
        this.cursor = Math.max(0, this.cursor - 1);
        this.line.splice(this.cursor, 1);
      } else {
        this.line[this.cursor++] = char;
      }
    }
  }

  private take(start: number): string {
    this.work += this.line.length - start;
    return this.line.slice(start).join('');
  }
}
