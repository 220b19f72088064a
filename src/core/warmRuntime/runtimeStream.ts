import { ConnectionLostError } from '../errors.ts';
import type { OutputStream } from '../outputCollector.ts';
import { stdinFrameOffset, type PodExecClient } from '../podExec.ts';
import {
  clientFrame,
  frameHeaderBytes,
  runtimeCommand,
  runtimeFrame,
  runtimeProgram,
  type RuntimeExit,
  type RuntimeStart,
} from './runtimeProgram.ts';

/** Where the runtime runs. */
export interface RuntimeTarget {
  exec: PodExecClient;
  namespace: string;
  pod: string;
  container: string;
}

/**
 * What a block hears of its run: output, then its exit, or that the stream was lost meanwhile:
 * `ran` false when the runtime was never told to run it (nothing of it ran).
 */
export interface BlockListener {
  onOutput(stream: OutputStream, bytes: Buffer): void;
  onExit(exit: RuntimeExit): void;
  onLost(error: ConnectionLostError, ran: boolean): void;
  /** The block's stdin source failed: it is killed, and its exit follows. */
  onStdinError?(error: unknown): void;
}

/** Stdin bytes sent to a block and not yet in its pipe, beyond which no more are sent. */
const stdinWindowBytes = 2 << 20;
const stdinFrameBytes = 1 << 20;

/** The runtime could not start in the pod (no Python, no sh): blocks take the exec path. */
export class RuntimeUnavailableError extends Error {}

/** How much of the runtime's own stderr is kept to explain why it ended. */
const keptStderrBytes = 2048;

/**
 * One exec stream to the warm runtime, shared by every block that runs while it is open: frames
 * go in on stdin (produced as blocks start), and come back on stdout, told apart by block id.
 * `ready` resolves once the runtime said so, or rejects: with RuntimeUnavailableError when the
 * runtime ended before that, with the exec's own error (nothing having run) otherwise.
 */
export class RuntimeStream {
  readonly ready: Promise<void>;
  private readonly outbox = new FrameQueue();
  private readonly blocks = new Map<number, BlockListener>();
  /** The blocks the runtime was told to run. */
  private readonly running = new Set<number>();
  private readonly closer = new AbortController();
  /** The stdin of blocks that read one: what is yet to send, and what is in flight. */
  private readonly feeds = new Map<number, Feed>();
  private nextId = 1;
  private incoming: Buffer = Buffer.alloc(0);
  private stderr = '';
  private ended: ConnectionLostError | undefined;
  private markReady: () => void = () => undefined;

  /** `onOpen`: the stream reached the pod (the runtime may not have started yet). */
  constructor(target: RuntimeTarget, onOpen: () => void = () => undefined) {
    let opened = false;
    const ready = new Promise<void>((resolve) => (this.markReady = resolve));
    const run = target.exec.run({
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      command: runtimeCommand(),
      stdin: this.outbox,
      signal: this.closer.signal,
      onOpen: () => {
        opened = true;
        onOpen();
      },
      onStdout: (chunk) => this.receive(chunk),
      onStderr: (chunk) => {
        this.stderr = (this.stderr + chunk.toString('utf8')).slice(-keptStderrBytes);
      },
    });
    const ended = run.then(
      ({ exitCode }) => {
        const why = `the warm runtime exited (code ${exitCode})${this.stderr ? `: ${this.stderr.trim()}` : ''}`;
        this.end(new ConnectionLostError(target.pod, why));
        // Killed by a signal (out of memory, a kill -9) it may start the next time; any other
        // early exit (no Python, a Python too old for it) says it cannot run in this image.
        throw exitCode >= 128
          ? new ConnectionLostError(target.pod, why)
          : new RuntimeUnavailableError(why);
      },
      (error: unknown) => {
        const lost =
          error instanceof ConnectionLostError
            ? error
            : new ConnectionLostError(
                target.pod,
                `the warm runtime's stream ended: ${String(error)}`,
              );
        this.end(lost);
        // A stream that never opened ran nothing; one cut is no sign the runtime cannot start.
        if (!opened || error instanceof ConnectionLostError) {
          throw error;
        }
        throw new RuntimeUnavailableError(lost.detail);
      },
    );
    this.outbox.push(Buffer.concat([Buffer.alloc(stdinFrameOffset), Buffer.from(runtimeProgram)]));
    this.ready = Promise.race([ready, ended]);
    // Once ready, the end is told to the blocks in flight, not to `ready`.
    ended.catch(() => undefined);
  }

  /** Whether the stream has ended: the next block needs a new one. */
  get isEnded(): boolean {
    return this.ended !== undefined;
  }

  /** How many blocks it carries now. */
  get blockCount(): number {
    return this.blocks.size;
  }

  /** Starts a block; its listener hears everything about it. Returns the id to kill it by. */
  start(
    request: RuntimeStart,
    code: Buffer,
    listener: BlockListener,
    stdin?: Buffer | AsyncIterable<Buffer>,
  ): number {
    const id = this.nextId++;
    if (this.ended) {
      listener.onLost(this.ended, false);
      return id;
    }
    this.blocks.set(id, listener);
    if (stdin) {
      // Streamed frames hold their bytes from stdinFrameOffset on, as for an exec's stdin.
      const skip = Buffer.isBuffer(stdin) ? 0 : stdinFrameOffset;
      this.feeds.set(id, { source: Buffer.isBuffer(stdin) ? [stdin] : stdin, skip, inFlight: 0 });
    }
    this.send(
      clientFrame.start,
      id,
      Buffer.concat([Buffer.from(`${JSON.stringify(request)}\n`), code]),
    );
    return id;
  }

  /**
   * Asks the runtime to kill a block (TERM, then KILL); its exit follows. False when it was not
   * running yet: then it never will, and its listener hears nothing more.
   */
  kill(id: number): boolean {
    const running = this.running.has(id);
    if (!running) {
      this.blocks.delete(id);
      this.stopFeed(id);
    }
    if (!this.ended) {
      this.send(clientFrame.kill, id, Buffer.alloc(0));
    }
    return running;
  }

  /**
   * Ends a block's stdin now, after what was sent: it reads the end of its stream next. One not
   * running yet never will.
   */
  endStdin(id: number): void {
    if (!this.running.has(id)) {
      this.kill(id);
    } else if (this.feeds.has(id)) {
      this.stopFeed(id);
      this.send(clientFrame.stdin, id, Buffer.alloc(0));
    }
  }

  /** Closes the stream: the runtime kills whatever still runs and exits. */
  close(): void {
    this.outbox.end();
    this.closer.abort(new Error('the warm runtime was closed'));
  }

  /**
   * Sends a block's stdin as its source makes it, never more than stdinWindowBytes ahead of what
   * the runtime put in its pipe (the frames wait in the exec's stdin, which waits for the socket).
   */
  private async pump(id: number, feed: Feed, listener: BlockListener): Promise<void> {
    try {
      for await (const frame of feed.source) {
        const chunk = frame.subarray(feed.skip);
        for (let at = 0; at < chunk.length; at += stdinFrameBytes) {
          const piece = chunk.subarray(at, at + stdinFrameBytes);
          while (
            !feed.stopped &&
            feed.inFlight > 0 &&
            feed.inFlight + piece.length > stdinWindowBytes
          ) {
            await new Promise<void>((resolve) => (feed.more = resolve));
          }
          if (feed.stopped) {
            return;
          }
          feed.inFlight += piece.length;
          this.send(clientFrame.stdin, id, piece);
        }
      }
      if (!feed.stopped) {
        this.send(clientFrame.stdin, id, Buffer.alloc(0));
      }
    } catch (error) {
      if (!feed.stopped) {
        listener.onStdinError?.(error);
      }
    }
  }

  private stopFeed(id: number): void {
    const feed = this.feeds.get(id);
    if (feed) {
      this.feeds.delete(id);
      feed.stopped = true;
      feed.more?.();
    }
  }

  private send(kind: number, id: number, payload: Buffer): void {
    const frame = Buffer.allocUnsafe(stdinFrameOffset + frameHeaderBytes + payload.length);
    frame.writeUInt8(kind, stdinFrameOffset);
    frame.writeUInt32BE(id, stdinFrameOffset + 1);
    frame.writeUInt32BE(payload.length, stdinFrameOffset + 5);
    payload.copy(frame, stdinFrameOffset + frameHeaderBytes);
    this.outbox.push(frame);
  }

  private receive(chunk: Buffer): void {
    this.incoming = this.incoming.length === 0 ? chunk : Buffer.concat([this.incoming, chunk]);
    while (this.incoming.length >= frameHeaderBytes) {
      const size = this.incoming.readUInt32BE(5);
      if (this.incoming.length < frameHeaderBytes + size) {
        return;
      }
      const kind = this.incoming.readUInt8(0);
      const id = this.incoming.readUInt32BE(1);
      const payload = this.incoming.subarray(frameHeaderBytes, frameHeaderBytes + size);
      this.incoming = this.incoming.subarray(frameHeaderBytes + size);
      this.dispatch(kind, id, payload);
    }
  }

  private dispatch(kind: number, id: number, payload: Buffer): void {
    if (kind === runtimeFrame.ready) {
      this.markReady();
      return;
    }
    const listener = this.blocks.get(id);
    if (!listener) {
      return;
    }
    if (kind === runtimeFrame.held) {
      this.running.add(id);
      this.send(clientFrame.run, id, Buffer.alloc(0));
      const feed = this.feeds.get(id);
      if (feed) {
        void this.pump(id, feed, listener);
      }
    } else if (kind === runtimeFrame.taken) {
      const feed = this.feeds.get(id);
      if (feed) {
        feed.inFlight -= payload.readUInt32BE(0);
        feed.more?.();
      }
    } else if (kind === runtimeFrame.stdout || kind === runtimeFrame.stderr) {
      // The payload is a view of a buffer the next chunk may replace: the listener keeps a copy.
      listener.onOutput(kind === runtimeFrame.stdout ? 'stdout' : 'stderr', Buffer.from(payload));
    } else if (kind === runtimeFrame.exit) {
      this.blocks.delete(id);
      this.running.delete(id);
      this.stopFeed(id);
      listener.onExit(JSON.parse(payload.toString('utf8')) as RuntimeExit);
    }
  }

  private end(lost: ConnectionLostError): void {
    this.ended ??= lost;
    this.outbox.end();
    const listeners = [...this.blocks];
    this.blocks.clear();
    for (const id of this.feeds.keys()) {
      this.stopFeed(id);
    }
    for (const [id, listener] of listeners) {
      listener.onLost(this.ended, this.running.has(id));
    }
    this.running.clear();
  }
}

interface Feed {
  source: Iterable<Buffer> | AsyncIterable<Buffer>;
  /** Bytes before each chunk's own. */
  skip: number;
  inFlight: number;
  stopped?: boolean;
  /** Wakes the pump once the runtime took some bytes, or the block ended. */
  more?: () => void;
}

/** Frames waiting for the exec's stdin, handed out as it asks for them. */
class FrameQueue implements AsyncIterable<Buffer> {
  private readonly frames: Buffer[] = [];
  private waiting: ((frame: IteratorResult<Buffer>) => void) | undefined;
  private done = false;

  push(frame: Buffer): void {
    if (this.done) {
      return;
    }
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value: frame, done: false });
    } else {
      this.frames.push(frame);
    }
  }

  end(): void {
    this.done = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => {
        const frame = this.frames.shift();
        if (frame) {
          return Promise.resolve({ value: frame, done: false });
        }
        if (this.done) {
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve) => (this.waiting = resolve));
      },
    };
  }
}
