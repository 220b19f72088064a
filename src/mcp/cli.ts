import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { redactSecrets, type Logger } from '../core/index.ts';
import { parseCliArguments, usage, UsageError, type McpServerConfig } from './cliArguments.ts';
import { startHttpServer } from './httpServer.ts';
import { SessionStore } from './sessions.ts';

/**
 * A stdio message larger than this closes the session (the SDK's default, 10 MB, would close it
 * before an oversized call could be answered with a tool error).
 */
const maxStdioMessageBytes = 64 * 1024 * 1024;
/** Deleting pods at exit waits this long at most (an unreachable cluster must not hang the exit). */
const shutdownLimitMs = 60_000;

/** Diagnostics go to stderr: stdout carries the stdio transport. */
function stderrLogger(secrets: readonly string[]): Logger {
  const write = (level: string) => (message: string | Error) =>
    process.stderr.write(
      `pod-runner-mcp ${level}: ${redactSecrets(message instanceof Error ? message.message : message, secrets)}\n`,
    );
  return {
    trace: () => undefined,
    debug: () => undefined,
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
}

async function serve(config: McpServerConfig): Promise<void> {
  const secrets = config.token === undefined ? [] : [config.token];
  const logger = stderrLogger(secrets);
  const sessions = new SessionStore(config, logger, secrets);
  let closeHttp: () => Promise<void> = () => Promise.resolve();
  let exiting = false;
  const exit = async (why: string, code: number) => {
    if (exiting) {
      return;
    }
    exiting = true;
    logger.info(`${why}: deleting the sessions' pods`);
    const limit = setTimeout(() => {
      logger.error('pods are still being deleted; exiting anyway');
      process.exit(code);
    }, shutdownLimitMs);
    await closeHttp().catch(() => undefined);
    await sessions.closeAll();
    clearTimeout(limit);
    process.exit(code);
  };
  process.on('SIGINT', () => void exit('interrupted', 130));
  process.on('SIGTERM', () => void exit('terminated', 143));

  if (config.transport === 'stdio') {
    // The client ending the session closes our stdin.
    process.stdin.on('end', () => void exit('the client closed the session', 0));
    process.stdin.on('close', () => void exit('the client closed the session', 0));
    const transport = new StdioServerTransport(process.stdin, process.stdout, {
      maxBufferSize: maxStdioMessageBytes,
    });
    transport.onclose = () => void exit('the stdio transport closed', 0);
    await sessions.open(transport);
    logger.info(`serving MCP over stdio (${config.type})`);
    return;
  }
  const http = await startHttpServer(config, sessions, logger);
  closeHttp = () => http.close();
}

function main(): void {
  let config: McpServerConfig | 'help';
  try {
    config = parseCliArguments(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) {
      throw error;
    }
    process.stderr.write(`pod-runner-mcp: ${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(usage);
    return;
  }
  serve(config).catch((error: unknown) => {
    process.stderr.write(`pod-runner-mcp: ${(error as Error).message}\n`);
    process.exit(1);
  });
}

main();
