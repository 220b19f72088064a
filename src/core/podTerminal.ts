import type WebSocket from 'ws';
import { ConnectionLostError } from './errors.ts';
import {
  exitCodeOf,
  parseStatus,
  resizeChannel,
  statusChannel,
  stdinChannel,
  stdoutChannel,
} from './execChannels.ts';
import type { StatusBody } from './kubernetesErrors.ts';

export interface PodTerminalRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  signal?: AbortSignal;
}

/** What to run in a terminal (default: a shell) and its initial size. */
export interface TerminalOptions {
  command?: string[];
  columns?: number;
  rows?: number;
  signal?: AbortSignal;
}

/** How an interactive process ended: its exit code, or the error that cut the connection. */
export type PodTerminalExit = { exitCode: number } | { error: Error };

/**
 * One interactive exec with a tty. Output is delivered as it arrives (bytes: the terminal decodes
 * them); input and size changes go to the process. `close()` hangs up the connection, which
 * ends a shell the way closing a terminal window does.
 */
export class PodTerminal {
  private readonly dataListeners: ((chunk: Buffer) => void)[] = [];
  private readonly exitListeners: ((exit: PodTerminalExit) => void)[] = [];
  private readonly pending: Buffer[] = [];
  private exit: PodTerminalExit | undefined;
  private status: StatusBody | undefined;

  /** `socket` is open and paused (see openKubernetesWebSocket); the terminal resumes it. */
  constructor(
    private readonly socket: WebSocket,
    pod: string,
  ) {
    socket.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    socket.on('error', (error) =>
      this.finish({ error: new ConnectionLostError(pod, error.message) }),
    );
    socket.on('close', (code: number) => {
      if (this.status) {
        try {
          this.finish({ exitCode: exitCodeOf(this.status, pod) });
        } catch (error) {
          this.finish({ error: error as Error });
        }
      } else {
        this.finish({
          error: new ConnectionLostError(
            pod,
            `the terminal closed (code ${code}) without an exit status`,
          ),
        });
      }
    });
    // Output that arrives before a listener subscribes is kept (see onData).
    socket.resume();
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    for (const chunk of this.pending.splice(0)) {
      listener(chunk);
    }
  }

  onExit(listener: (exit: PodTerminalExit) => void): void {
    if (this.exit) {
      listener(this.exit);
    } else {
      this.exitListeners.push(listener);
    }
  }

  write(data: string | Buffer): void {
    this.send(stdinChannel, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  resize(columns: number, rows: number): void {
    this.send(resizeChannel, Buffer.from(JSON.stringify({ Width: columns, Height: rows })));
  }

  close(): void {
    this.socket.close();
  }

  private send(channel: number, payload: Buffer): void {
    if (this.socket.readyState !== this.socket.OPEN) {
      return;
    }
    this.socket.send(Buffer.concat([Buffer.from([channel]), payload]));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary || data.length === 0) {
      return;
    }
    const payload = data.subarray(1);
    if (data[0] === statusChannel) {
      this.status = parseStatus(payload);
    } else if (data[0] === stdoutChannel && payload.length > 0) {
      if (this.dataListeners.length === 0) {
        this.pending.push(Buffer.from(payload));
      }
      for (const listener of this.dataListeners) {
        listener(payload);
      }
    }
  }

  private finish(exit: PodTerminalExit): void {
    if (this.exit) {
      return;
    }
    this.exit = exit;
    for (const listener of this.exitListeners.splice(0)) {
      listener(exit);
    }
  }
}
