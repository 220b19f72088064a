import * as vscode from 'vscode';
import { redactSecrets, type Logger } from '../core/logger.ts';

/** The core Logger backed by the "Pod Runner" LogOutputChannel, with tokens redacted. */
export function channelLogger(
  channel: vscode.LogOutputChannel,
  secrets: () => readonly string[] = () => [],
): Logger {
  const clean = (message: string | Error) =>
    redactSecrets(
      message instanceof Error ? (message.stack ?? message.message) : message,
      secrets(),
    );
  return {
    trace: (message) => channel.trace(clean(message)),
    debug: (message) => channel.debug(clean(message)),
    info: (message) => channel.info(clean(message)),
    warn: (message) => channel.warn(clean(message)),
    error: (message) => channel.error(clean(message)),
  };
}
