import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PodJupyterConnectionInfo } from '../../src/core/jupyterConnection.ts';
import type { JupyterMessage } from '../../src/core/jupyterMessages.ts';

/** What the fake kernel answers an execute_request with, when it runs one. */
export interface FakeOutcome {
  stdout?: string;
  /** The execute_reply's status; `error` also carries ename/evalue/traceback in the reply. */
  status?: 'ok' | 'error' | 'aborted';
  /** Whether an `error` outcome is also published on iopub (a real kernel does both). */
  iopubError?: boolean;
  /** The kernel runs it but every message goes nowhere (the client's connection is gone). */
  unseen?: boolean;
  /** Messages published on iopub (for this request) before the stdout, in order, as given. */
  iopub?: { msgType: string; content: unknown }[];
  /** Text frames sent as they are (not even JSON, perhaps) before the stdout. */
  frames?: string[];
  /** The execute_reply's content, as given, instead of a well-formed one. */
  replyContent?: unknown;
}

type ShellHandler = (request: JupyterMessage, fake: FakeJupyterServer) => void;

/**
 * A Jupyter server on 127.0.0.1 whose kernel is a script: tests decide, message by message, what
 * reaches the kernel, what it answers and when the connection drops, to put a fault at an exact
 * point of the protocol. Messages always go to the newest connection, as a real server's replay
 * and iopub broadcast deliver them to the client that reconnected.
 */
export class FakeJupyterServer {
  readonly kernelId = randomUUID();
  /** The code of every execute_request the fake kernel ran, in order. */
  readonly executed: string[] = [];
  readonly connections: WebSocket[] = [];
  /** Copies of an execute_request already received, refused as ipykernel refuses a duplicate signature. */
  readonly duplicates: string[] = [];
  private readonly received = new Set<string>();
  /** Decides what happens to each execute_request; by default it runs with `ok`. */
  onExecute: ShellHandler = (request, fake) => fake.run(request);
  /**
   * The kernel's execution state as the server's record gives it (GET /api/kernels/<id>); with
   * `followsActivity` off the record keeps it, as Jupyter Server's does before its activity
   * watcher subscribed to the kernel's output.
   */
  recordedState = 'idle';
  followsActivity = true;
  /** Decides what happens to each kernel_info_request; by default it is answered. */
  onKernelInfo: ShellHandler = (request, fake) => fake.answerKernelInfo(request);
  private executionCount = 0;

  private constructor(
    private readonly http: Server,
    private readonly sockets: WebSocketServer,
  ) {}

  static async start(): Promise<FakeJupyterServer> {
    const http = createServer();
    const sockets = new WebSocketServer({ noServer: true });
    const fake = new FakeJupyterServer(http, sockets);
    http.on('request', (request, response) => {
      const route = `${request.method ?? ''} ${request.url ?? ''}`;
      const json = (status: number, body?: unknown) => {
        response.writeHead(status, { 'Content-Type': 'application/json' });
        response.end(body === undefined ? '' : JSON.stringify(body));
      };
      if (route === 'GET /api/kernelspecs') {
        json(200, { default: 'python3', kernelspecs: { python3: {} } });
      } else if (route === 'POST /api/kernels') {
        json(201, { id: fake.kernelId, name: 'python3' });
      } else if (route.startsWith(`GET /api/kernels/${fake.kernelId}`)) {
        json(200, { id: fake.kernelId, name: 'python3', execution_state: fake.recordedState });
      } else if (route.startsWith(`DELETE /api/kernels/${fake.kernelId}`)) {
        json(204);
      } else if (route === `POST /api/kernels/${fake.kernelId}/interrupt`) {
        json(204);
      } else {
        json(404, { message: `no route ${route}` });
      }
    });
    http.on('upgrade', (request, socket, head) => {
      sockets.handleUpgrade(request, socket, head, (ws) => fake.accept(ws));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get info(): PodJupyterConnectionInfo {
    return { host: '127.0.0.1', port: (this.http.address() as AddressInfo).port, token: 'fake' };
  }

  /** Runs a request in the fake kernel: busy, execute_input, output, execute_reply, idle. */
  run(request: JupyterMessage, outcome: FakeOutcome = {}): void {
    if ((outcome.status ?? 'ok') !== 'aborted') {
      this.executed.push(String(request.content.code));
      this.executionCount += 1;
    }
    if (!outcome.unseen) {
      this.replay(request, outcome);
    }
  }

  /** Sends the messages of a request the kernel already ran, as a server replays its buffer. */
  replay(request: JupyterMessage, outcome: FakeOutcome = {}): void {
    const status = outcome.status ?? 'ok';
    const count = status === 'aborted' ? null : this.executionCount;
    this.status(request, 'busy');
    if (status !== 'aborted') {
      this.send(request, 'iopub', 'execute_input', {
        code: request.content.code,
        execution_count: count,
      });
    }
    for (const { msgType, content } of outcome.iopub ?? []) {
      this.send(request, 'iopub', msgType, content);
    }
    for (const frame of outcome.frames ?? []) {
      this.connections.at(-1)?.send(frame);
    }
    if (outcome.stdout) {
      this.send(request, 'iopub', 'stream', { name: 'stdout', text: outcome.stdout });
    }
    const failure = { ename: 'ValueError', evalue: 'boom', traceback: ['ValueError: boom'] };
    if (status === 'error' && outcome.iopubError !== false) {
      this.send(request, 'iopub', 'error', failure);
    }
    this.send(
      request,
      'shell',
      'execute_reply',
      'replyContent' in outcome
        ? outcome.replyContent
        : { status, execution_count: count, ...(status === 'error' ? failure : {}) },
    );
    this.status(request, 'idle');
  }

  /** Answers a kernel_info_request the way ipykernel does: busy, reply, idle. */
  answerKernelInfo(request: JupyterMessage): void {
    this.status(request, 'busy');
    this.send(request, 'shell', 'kernel_info_reply', { status: 'ok', protocol_version: '5.3' });
    this.status(request, 'idle');
  }

  /** Publishes a status for a request: 'restarting' is the server's restarter replacing the kernel. */
  publishStatus(parent: JupyterMessage, state: string): void {
    this.status(parent, state);
  }

  /** Answers on shell alone, as a restarted kernel whose iopub is not bridged to the client yet. */
  replyOnShellOnly(parent: JupyterMessage, msgType: string, content: unknown): void {
    this.send(parent, 'shell', msgType, content);
  }

  /** Makes a request vanish before the kernel got it (so a copy sent again is not a duplicate). */
  lose(request: JupyterMessage): void {
    this.received.delete(request.header.msg_id);
  }

  /** Cuts the newest connection as a dropped network would. */
  dropConnection(): void {
    this.connections.at(-1)?.terminate();
  }

  async stop(): Promise<void> {
    for (const socket of this.connections) {
      socket.terminate();
    }
    this.sockets.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private status(parent: JupyterMessage, state: string): void {
    this.send(parent, 'iopub', 'status', { execution_state: state });
  }

  private send(parent: JupyterMessage, channel: string, msgType: string, content: unknown): void {
    const message = {
      channel,
      header: {
        msg_id: randomUUID(),
        msg_type: msgType,
        session: 'fake-kernel',
        username: 'kernel',
        date: new Date().toISOString(),
        version: '5.3',
      },
      parent_header: parent.header,
      metadata: {},
      content,
    };
    this.connections.at(-1)?.send(JSON.stringify(message));
  }

  private accept(socket: WebSocket): void {
    this.connections.push(socket);
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as JupyterMessage;
      if (this.followsActivity) {
        this.recordedState = 'idle';
      }
      if (message.header.msg_type === 'execute_request') {
        if (this.received.has(message.header.msg_id)) {
          this.duplicates.push(String(message.content.code));
          return;
        }
        this.received.add(message.header.msg_id);
        this.onExecute(message, this);
      } else if (message.header.msg_type === 'kernel_info_request') {
        this.onKernelInfo(message, this);
      }
    });
  }
}
