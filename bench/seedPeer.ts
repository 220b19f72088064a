import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pythonOf } from '../test/support/pythonEnvironments.ts';
import type { Repetitions } from './stats.ts';

/** One block for the seed to run, and the output it must give (its length when large). */
export interface SeedCall {
  language: string;
  code: string;
  output?: string;
  outputLength?: number;
}

/**
 * The seed's own PodCommandLineCodeExecutor (autogen-kubernetes from its pinned environment) in a
 * Python process of its own, driven request by request over JSON lines (bench/seedPeer.py). It
 * times itself, as our rows are timed in our process, on its own pod on the same emulator.
 */
export class SeedPeer {
  private constructor(
    private readonly request: (message: Record<string, unknown>) => Promise<SeedAnswer>,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    /** The autogen-kubernetes version that ran, for the rows' text. */
    readonly version: string,
  ) {}

  /** Starts the driver and its executor (the seed's default pod, python:3-slim). */
  static async open(kubeconfig: string, timeoutSeconds: number): Promise<SeedPeer> {
    const child = spawn(await pythonOf('seed'), [join(__dirname, 'seedPeer.py')], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, KUBECONFIG: kubeconfig },
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const request = async (message: Record<string, unknown>): Promise<SeedAnswer> => {
      child.stdin.write(`${JSON.stringify(message)}\n`);
      const next = await answers.next();
      if (next.done) {
        throw new Error(`the seed's driver ended before answering ${String(message.op)}`);
      }
      const answer = JSON.parse(next.value) as SeedAnswer;
      if (!answer.ok) {
        throw new Error(`the seed failed at ${String(message.op)}: ${answer.error}`);
      }
      return answer;
    };
    try {
      const opened = await request({ op: 'open', timeout: timeoutSeconds });
      return new SeedPeer(request, child, exited, opened.version!);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** How the rows name this peer: what ran, at which version. */
  get name(): string {
    return `the seed's executor (autogen-kubernetes ${this.version})`;
  }

  /** Each rep runs every call at once (asyncio.gather on the one executor); the reps' times. */
  async time(calls: SeedCall[], { warmup, reps }: Repetitions): Promise<number[]> {
    return (await this.request({ op: 'time', calls, warmup, reps })).samples!;
  }

  /** Per rep, construction of a new executor to its first `print(1)` result; the times. */
  async coldStarts(reps: number, timeoutSeconds: number): Promise<number[]> {
    return (await this.request({ op: 'coldStart', reps, timeout: timeoutSeconds })).samples!;
  }

  /**
   * Stops the seed's executor (its pod is deleted) and waits for the driver to end; a driver that
   * cannot answer any more is killed (its pod then goes with the emulator).
   */
  async close(): Promise<void> {
    await this.request({ op: 'close' }).catch(() => this.child.kill('SIGKILL'));
    await this.exited;
  }
}

interface SeedAnswer {
  ok: boolean;
  error?: string;
  version?: string;
  samples?: number[];
}
