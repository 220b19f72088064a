import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from '../core/index.ts';
import type { McpServerConfig } from './cliArguments.ts';
import { createSessionRunner, type SessionRunner } from './sessionRunner.ts';
import { createMcpServer } from './tools.ts';

/**
 * The live MCP sessions, each with its own runner (pod or kernel): a session's pod is deleted when
 * its transport closes, and every pod by closeAll() before the process exits.
 */
export class SessionStore {
  private readonly runners = new Set<SessionRunner>();
  private readonly disposals = new Set<Promise<void>>();

  constructor(
    private readonly config: McpServerConfig,
    private readonly logger: Logger,
    private readonly secrets: readonly string[],
  ) {}

  /** Serves one MCP session on `transport` (started by this call). */
  async open(transport: Transport): Promise<void> {
    const runner = createSessionRunner(this.config, this.logger);
    const server = createMcpServer(this.config, runner, this.secrets);
    this.runners.add(runner);
    server.server.onclose = () => void this.dispose(runner);
    await server.connect(transport);
  }

  private dispose(runner: SessionRunner): Promise<void> {
    if (!this.runners.delete(runner)) {
      return Promise.resolve();
    }
    const disposal = runner
      .dispose()
      .catch((error: unknown) =>
        this.logger.error(`could not delete a session's pod: ${(error as Error).message}`),
      )
      .finally(() => this.disposals.delete(disposal));
    this.disposals.add(disposal);
    return disposal;
  }

  /** Ends every session's runner and waits for the deletions already under way. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.runners].map((runner) => this.dispose(runner)));
    await Promise.all([...this.disposals]);
  }
}
