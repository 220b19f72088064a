import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import { ignoreResets, type ExecProcess } from './containerExec.ts';

/** The kubelet's channel protocols over WebSocket: byte 0 of each binary frame is the channel. */

export const streamProtocols = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
];

const stdinChannel = 0;
const stdoutChannel = 1;
const stderrChannel = 2;
const errorChannel = 3;
const resizeChannel = 4;
const closeChannel = 255;

/** Picks the first protocol the client offers that the server speaks, as apimachinery's wsstream does. */
export function selectStreamProtocol(
  offered: Set<string>,
  supported: readonly string[] = streamProtocols,
): string | false {
  if (offered.size === 0) {
    return false;
  }
  for (const protocol of offered) {
    if (supported.includes(protocol)) {
      return protocol;
    }
  }
  return false;
}

function protocolVersion(protocol: string): number {
  const match = /^v(\d)\.channel\.k8s\.io$/.exec(protocol);
  return match ? Number(match[1]) : 1;
}

const highWater = 4 * 1024 * 1024;

/**
 * Sends a stream's chunks as frames on one channel, pausing the source while the socket's send
 * buffer is above the high-water mark.
 */
function pump(ws: WebSocket, source: Readable, channel: number): void {
  let inFlight = 0;
  source.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) {
      return;
    }
    const frame = Buffer.allocUnsafe(chunk.length + 1);
    frame[0] = channel;
    chunk.copy(frame, 1);
    inFlight += frame.length;
    ws.send(frame, () => {
      inFlight -= frame.length;
      if (inFlight < highWater && source.isPaused()) {
        source.resume();
      }
    });
    if (inFlight >= highWater) {
      source.pause();
    }
  });
  ws.once('close', () => source.resume());
}

export interface ExecStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** The exec status the kubelet writes on channel 3 (v4+: a metav1.Status). */
export function execStatusFrame(
  version: number,
  exitCode: number,
  notFoundCommand?: string,
): Buffer {
  if (notFoundCommand !== undefined) {
    const message = `Internal error occurred: error executing command in container: failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: exec: "${notFoundCommand}": executable file not found in $PATH: unknown`;
    const body =
      version >= 4
        ? JSON.stringify({
            metadata: {},
            status: 'Failure',
            message,
            reason: 'InternalError',
            details: { causes: [{ message }] },
            code: 500,
          })
        : message;
    return Buffer.concat([Buffer.from([errorChannel]), Buffer.from(body)]);
  }
  if (version < 4) {
    return exitCode === 0
      ? Buffer.from([errorChannel])
      : Buffer.concat([
          Buffer.from([errorChannel]),
          Buffer.from(`command terminated with non-zero exit code: exit status ${exitCode}`),
        ]);
  }
  const status =
    exitCode === 0
      ? { metadata: {}, status: 'Success' }
      : {
          metadata: {},
          status: 'Failure',
          message: `command terminated with non-zero exit code: error executing command [sh], exit code ${exitCode}`,
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
        };
  return Buffer.concat([Buffer.from([errorChannel]), Buffer.from(JSON.stringify(status))]);
}

/**
 * Connects an exec'd process to the client's WebSocket. Closing the socket closes stdin and
 * discards later output; the process keeps running, as with a real kubelet.
 */
export function serveExec(
  ws: WebSocket,
  protocol: string,
  streams: ExecStreams,
  process: ExecProcess,
  argv: string[],
): void {
  const version = protocolVersion(protocol);
  let stdinOpen = streams.stdin;
  if (!streams.stdin) {
    process.stdin.end();
  }
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary || data.length === 0) {
      return;
    }
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel === stdinChannel && stdinOpen) {
      if (payload.length > 0) {
        process.stdin.write(payload);
      }
    } else if (channel === resizeChannel && version >= 3) {
      try {
        // Go's JSON decoding matches field names case-insensitively; clients send either case.
        const size = JSON.parse(payload.toString()) as Record<string, unknown>;
        const field = (name: string) =>
          Number(Object.entries(size).find(([key]) => key.toLowerCase() === name)?.[1]);
        process.resize(field('width') || 80, field('height') || 24);
      } catch {
        // A malformed resize message is ignored, as by the kubelet.
      }
    } else if (
      channel === closeChannel &&
      version >= 5 &&
      payload[0] === stdinChannel &&
      stdinOpen
    ) {
      stdinOpen = false;
      process.stdin.end();
    }
  });
  ws.once('close', () => {
    if (stdinOpen) {
      stdinOpen = false;
      process.stdin.end();
    }
  });
  const discard = (stream: Readable) => stream.on('data', () => undefined);
  if (streams.stdout) {
    pump(ws, process.stdout, stdoutChannel);
  } else {
    discard(process.stdout);
  }
  if (streams.stderr && !streams.tty) {
    pump(ws, process.stderr, stderrChannel);
  } else {
    discard(process.stderr);
  }
  // The child's 'close' comes after its output streams ended, so every output frame is queued
  // before the status frame.
  void process.done.then(({ exitCode, notFound }) => {
    if (ws.readyState !== ws.OPEN) {
      return;
    }
    // A real node's runtime fails such a start while the kubelet's proxy may still be copying
    // the client's stdin to it: the proxy's write breaks and it drops the connection before the
    // status gets through (code 1006). Seen on the cluster tier's node under load, whenever the
    // client still streamed stdin; here whenever stdin is still open, so it is never missed.
    if (notFound && stdinOpen) {
      ws.terminate();
      return;
    }
    ws.send(execStatusFrame(version, exitCode, notFound ? argv[0] : undefined), () =>
      ws.close(1000),
    );
  });
}

/**
 * The WebSocket port-forward protocol: per requested port a data channel (2i) and an error
 * channel (2i+1), each opened by a frame carrying the port number (little-endian uint16).
 */
export function servePortForward(
  ws: WebSocket,
  ports: number[],
  connect: (port: number) => ChildProcess,
): void {
  let remaining = ports.length;
  const bridges: ChildProcess[] = [];
  ports.forEach((port, index) => {
    const dataChannel = index * 2;
    const errorChannel = dataChannel + 1;
    const prefix = (channel: number) => Buffer.from([channel, port & 0xff, (port >> 8) & 0xff]);
    ws.send(prefix(dataChannel));
    ws.send(prefix(errorChannel));
    const bridge = connect(port);
    bridges.push(bridge);
    ignoreResets(bridge);
    let error = '';
    bridge.stderr!.on('data', (chunk: Buffer) => (error += chunk.toString()));
    pump(ws, bridge.stdout!, dataChannel);
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary && data.length > 1 && data[0] === dataChannel) {
        bridge.stdin!.write(data.subarray(1));
      }
    });
    bridge.once('close', (code) => {
      if (code !== 0 && ws.readyState === ws.OPEN) {
        const message = `an error occurred forwarding ${port} -> ${port}: error forwarding port ${port} to pod: failed to connect to localhost:${port} inside the pod's network namespace: ${error.trim()}`;
        ws.send(Buffer.concat([Buffer.from([errorChannel]), Buffer.from(message)]));
      }
      if (--remaining === 0 && ws.readyState === ws.OPEN) {
        ws.close(1000);
      }
    });
  });
  ws.once('close', () => {
    for (const bridge of bridges) {
      bridge.stdin!.end();
      bridge.kill('SIGTERM');
    }
  });
}
