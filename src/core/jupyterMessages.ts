import type { ExecutionReply } from './kernelChannelTypes.ts';
import { randomUUID } from 'node:crypto';

/** Jupyter messaging protocol 5.3 over the server's WebSocket (JSON text frames). */

export type Channel = 'shell' | 'iopub' | 'stdin' | 'control';

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

export interface JupyterMessage<Content = Record<string, unknown>> {
  channel: Channel;
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: Content;
  buffers?: unknown[];
}

export type MimeBundle = Record<string, unknown>;

/** What a cell produced, one typed event per message, for notebooks and callers. */
export type KernelOutputEvent =
  | { type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | {
      type: 'display_data';
      data: MimeBundle;
      metadata: Record<string, unknown>;
      displayId?: string;
    }
  | {
      type: 'update_display_data';
      data: MimeBundle;
      metadata: Record<string, unknown>;
      displayId: string;
    }
  | {
      type: 'execute_result';
      data: MimeBundle;
      metadata: Record<string, unknown>;
      executionCount: number | null;
    }
  | { type: 'clear_output'; wait: boolean }
  | { type: 'error'; ename: string; evalue: string; traceback: string[] }
  | { type: 'execute_input'; executionCount: number | null }
  | { type: 'input_request'; prompt: string; password: boolean };

export function createMessage<Content>(
  channel: Channel,
  msgType: string,
  session: string,
  content: Content,
): JupyterMessage<Content> {
  return {
    channel,
    header: {
      msg_id: randomUUID(),
      msg_type: msgType,
      session,
      username: 'pod-runner',
      date: new Date().toISOString(),
      version: '5.3',
    },
    parent_header: {},
    metadata: {},
    content,
    buffers: [],
  };
}

/** `silent`: the executor's own code, kept out of the history and the execution count. */
export function executeRequest(session: string, code: string, allowStdin: boolean, silent = false) {
  return createMessage('shell', 'execute_request', session, {
    code,
    silent,
    store_history: !silent,
    user_expressions: {},
    allow_stdin: allowStdin,
    // Cells are sent one at a time and the caller decides what follows an error. With `true`, a
    // kernel still aborting after one failed cell answers the next, independent one `aborted`
    // without running it.
    stop_on_error: false,
  });
}

export function inputReply(session: string, parent: JupyterMessage, value: string) {
  const message = createMessage('stdin', 'input_reply', session, { value });
  message.parent_header = parent.header;
  return message;
}

export function kernelInfoRequest(session: string) {
  return createMessage('shell', 'kernel_info_request', session, {});
}

/**
 * Parses a text frame; undefined for frames that are not Jupyter messages. Whatever the server
 * sends, the message returned has the documented shape: a header with a string msg_type, and
 * objects for parent_header, metadata and content (anything else there becomes `{}`).
 */
export function parseMessage(text: string): JupyterMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !isRecord(parsed.header) || typeof parsed.header.msg_type !== 'string') {
    return undefined;
  }
  return {
    channel: (typeof parsed.channel === 'string' ? parsed.channel : '') as Channel,
    header: parsed.header as unknown as MessageHeader,
    parent_header: asRecord(parsed.parent_header),
    metadata: asRecord(parsed.metadata),
    content: asRecord(parsed.content),
  };
}

/** The output event an iopub or stdin message carries, if any (fields of the wrong type are ignored). */
export function outputEvent(message: JupyterMessage): KernelOutputEvent | undefined {
  const content = message.content;
  const displayId = asRecord(content.transient).display_id;
  const bundle = () => ({
    data: asRecord(content.data) as MimeBundle,
    metadata: asRecord(content.metadata),
  });
  switch (message.header.msg_type) {
    case 'stream':
      return {
        type: 'stream',
        name: content.name === 'stderr' ? 'stderr' : 'stdout',
        text: asText(content.text),
      };
    case 'display_data':
      return {
        type: 'display_data',
        ...bundle(),
        ...(typeof displayId === 'string' && displayId ? { displayId } : {}),
      };
    case 'update_display_data':
      return {
        type: 'update_display_data',
        ...bundle(),
        displayId: typeof displayId === 'string' ? displayId : '',
      };
    case 'execute_result':
      return { type: 'execute_result', ...bundle(), executionCount: executionCount(content) };
    case 'clear_output':
      return { type: 'clear_output', wait: content.wait === true };
    case 'error':
      return {
        type: 'error',
        ename: asText(content.ename),
        evalue: asText(content.evalue),
        traceback: asTraceback(content.traceback),
      };
    case 'execute_input':
      return { type: 'execute_input', executionCount: executionCount(content) };
    case 'input_request':
      return {
        type: 'input_request',
        prompt: asText(content.prompt),
        password: content.password === true,
      };
    default:
      return undefined;
  }
}

/** A traceback as a list of lines: a single string is one line, other values are left out. */
export function asTraceback(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  return Array.isArray(value) ? value.filter((line) => typeof line === 'string') : [];
}

export function executionCount(content: Record<string, unknown>): number | null {
  return typeof content.execution_count === 'number' ? content.execution_count : null;
}

/** Removes ANSI escape sequences (IPython colours tracebacks). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
}

function asText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  return Array.isArray(value) ? value.filter((part) => typeof part === 'string').join('') : '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/** An execute_reply's content as the channel's result. */
export function executionReply(content: Record<string, unknown>): ExecutionReply {
  const status =
    content.status === 'error' ? 'error' : content.status === 'aborted' ? 'aborted' : 'ok';
  const count = executionCount(content);
  if (status !== 'error') {
    return { status, executionCount: count };
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return {
    status,
    executionCount: count,
    error: {
      ename: text(content.ename),
      evalue: text(content.evalue),
      traceback: asTraceback(content.traceback),
    },
  };
}
