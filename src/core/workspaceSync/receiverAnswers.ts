import { LineReader } from './framing.ts';

/**
 * What a receiver answers on stdout, a line each: `ok N` once record N is in place (in order),
 * `err N reason`, `done` (the Python receiver adds whether sh's tools are here too), `new-pod`.
 */
export class ReceiverAnswers {
  readonly lines: LineReader;
  done = false;
  newPod = false;
  /** Told by the Python receiver with its `done`: sh and its receiver's tools are on the PATH. */
  shTools: boolean | undefined;
  /** The records confirmed so far: 1 to `confirmed`. */
  confirmed = 0;
  private failed: { record: number; reason: string } | undefined;
  private readonly detail: string[] = [];

  constructor(onConfirmed: (record: number) => void) {
    this.lines = new LineReader((line) => {
      const [word, number, ...reason] = line.split(' ');
      const record = Number(number);
      if (word === 'ok' && Number.isInteger(record)) {
        this.confirmed = Math.max(this.confirmed, record);
        onConfirmed(record);
      } else if (word === 'err') {
        this.failed = { record, reason: reason.join(' ') };
      } else if (word === 'done') {
        this.done = true;
        if (number !== undefined) {
          this.shTools = number === '1';
        }
      } else if (word === 'new-pod') {
        this.newPod = true;
      } else if (line.trim()) {
        this.detail.push(line.trim());
      }
    });
  }

  /** Why the batch failed, and the record it failed at when the receiver said. */
  failure(exitCode: number, stderr: string): { reason: string; record: number | undefined } {
    const reason =
      [this.failed?.reason, ...this.detail, stderr.trim()].filter(Boolean).join(': ') ||
      (exitCode === 137 ? 'the receiver was killed (exit code 137)' : `exit code ${exitCode}`);
    return { reason, record: this.failed?.record || undefined };
  }
}
