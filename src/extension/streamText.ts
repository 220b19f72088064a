/**
 * Applies terminal control characters to accumulated stream text as Jupyter front ends do: a
 * carriage return rewinds to the start of the line, a backspace deletes the character before it.
 */
export function renderStreamText(text: string): string {
  const lines: string[] = [];
  for (const rawLine of text.split('\n')) {
    let line = '';
    let cursor = 0;
    for (const char of rawLine) {
      if (char === '\r') {
        cursor = 0;
      } else if (char === '\b') {
        cursor = Math.max(0, cursor - 1);
        line = line.slice(0, cursor) + line.slice(cursor + 1);
      } else {
        line = line.slice(0, cursor) + char + line.slice(cursor + 1);
        cursor++;
      }
    }
    lines.push(line);
  }
  return lines.join('\n');
}
