import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { redactSecrets } from '../core/index.ts';
import type { McpServerConfig } from './cliArguments.ts';
import {
  timedOut,
  type RunOutcome,
  type SessionRunner,
  type ToolLanguage,
} from './sessionRunner.ts';

/** Text returned per call at most; the head and tail are kept around a marker. */
export const maxResultTextBytes = 100 * 1024;
/** Code accepted per call at most (larger code is refused as a tool error, not run). */
export const maxCodeBytes = 512 * 1024;

const serverVersion = '0.1.0';

function describeTool(language: ToolLanguage, config: McpServerConfig): string {
  const where =
    config.sync === undefined
      ? ''
      : ' The working directory is a copy of the user’s project folder, synced before each run; its modules are importable.';
  if (config.type === 'jupyter') {
    return (
      'Runs Python in a stateful Jupyter kernel in a Kubernetes pod. Variables, imports and ' +
      'definitions persist between calls of this session. Matplotlib figures are returned as ' +
      `images (run %matplotlib inline first). Each call may run ${config.timeout} seconds; ` +
      'then it is interrupted, and the kernel keeps its state.' +
      where
    );
  }
  const program = language === 'python' ? 'a Python program' : 'a bash script';
  return (
    `Runs ${program} in a Kubernetes pod and returns its output and exit code. Stateless: every ` +
    'call is a new process, so variables do not persist, but files written in the working ' +
    `directory stay for this session. Each call may run ${config.timeout} seconds; then it ` +
    'is killed with everything it started.' +
    where
  );
}

/** The MCP server of one session: its tools run code through `runner`. */
export function createMcpServer(
  config: McpServerConfig,
  runner: SessionRunner,
  secrets: readonly string[],
): McpServer {
  const server = new McpServer(
    { name: 'pod-runner', version: serverVersion },
    {
      instructions:
        config.type === 'jupyter'
          ? 'Run Python code in a stateful Jupyter kernel in a Kubernetes pod with the python tool.'
          : 'Run Python or bash code in a Kubernetes pod with the python and bash tools.',
    },
  );
  const languages: ToolLanguage[] = config.type === 'jupyter' ? ['python'] : ['python', 'bash'];
  for (const language of languages) {
    const title =
      language === 'python' ? 'Run Python in a Kubernetes pod' : 'Run bash in a Kubernetes pod';
    server.registerTool(
      language,
      {
        title,
        description: describeTool(language, config),
        inputSchema: {
          code: z
            .string()
            .describe(language === 'python' ? 'The Python code to run' : 'The bash script to run'),
        },
        // Older clients read the title from the annotations.
        annotations: { title, readOnlyHint: false, destructiveHint: true, openWorldHint: true },
      },
      async ({ code }, extra) => {
        if (Buffer.byteLength(code) > maxCodeBytes) {
          return errorResult(
            `The code is ${Buffer.byteLength(code)} bytes; at most ${maxCodeBytes} bytes (512 KB) are accepted per call.`,
          );
        }
        try {
          return toolResult(await runner.run(language, code, extra.signal), config.timeout);
        } catch (error) {
          return errorResult(`Could not run the code: ${redactSecrets(messageOf(error), secrets)}`);
        }
      },
    );
  }
  return server;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** The output, its exit code and any images; a failure, timeout or cancellation is an error. */
export function toolResult(outcome: RunOutcome, timeout: number): CallToolResult {
  let text = truncate(outcome.output);
  if (timedOut(outcome)) {
    text += `\n[timed out: the run was stopped after its limit of ${timeout} seconds]`;
  }
  text += `${text.endsWith('\n') || text === '' ? '' : '\n'}[exit code: ${outcome.exitCode}]`;
  return {
    content: [
      { type: 'text', text },
      ...outcome.images.map((image) => ({ type: 'image' as const, ...image })),
    ],
    ...(outcome.exitCode !== 0 && { isError: true }),
  };
}

/** Keeps the head and tail of text over the limit, with a marker saying how much was left out. */
export function truncate(text: string, limit = maxResultTextBytes): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= limit) {
    return text;
  }
  const half = Math.floor(limit / 2);
  // A cut inside a multi-byte character decodes to U+FFFD there, which is harmless.
  const head = bytes.subarray(0, half).toString();
  const tail = bytes.subarray(bytes.length - half).toString();
  return `${head}\n[... ${bytes.length - 2 * half} bytes of output left out ...]\n${tail}`;
}
