import type * as vscode from 'vscode';
import { redactSecrets, type Logger } from '../core/logger.ts';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/**
 * The core Logger backed by the "Pod Runner" LogOutputChannel, with tokens redacted. It never
 * throws: once the channel is closed (the window is closing while pods are deleted), lines go to
 * the console instead, so a log line cannot stop a cleanup.
 */
export function channelLogger(
  channel: vscode.LogOutputChannel,
  secrets: () => readonly string[] = () => [],
): Logger {
  const clean = (message: string | Error) =>
    redactSecrets(
      message instanceof Error ? (message.stack ?? message.message) : message,
      secrets(),
    );
  const write = (level: Level, message: string | Error) => {
    const text = clean(message);
    try {
      channel[level](text);
    } catch {
      // eslint-disable-next-line no-console -- the channel is closed: the extension host's log
      console[level === 'trace' ? 'debug' : level](`Pod Runner: ${text}`);
    }
  };
  return {
    trace: (message) => write('trace', message),
    debug: (message) => write('debug', message),
    info: (message) => write('info', message),
    warn: (message) => write('warn', message),
    error: (message) => write('error', message),
  };
}
