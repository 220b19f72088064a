/** What an agent asks the language-model tool to run. */
export interface AgentToolInput {
  code: string;
  language?: 'python' | 'bash';
  /** The executor pod (a fresh process per call) or the window's agent kernel (state kept). */
  target?: 'pod' | 'kernel';
}

/** The most of a result's output handed back to the model; the Output channel shows it all. */
export const agentResultLimit = 100_000;

/** The confirmation's text (Markdown): where the code runs, then the code itself. */
export function agentConfirmation(
  input: AgentToolInput,
  cluster: { context: string; namespace: string },
): string {
  const where =
    input.target === 'kernel'
      ? 'the kernel pod (state is kept between calls)'
      : 'the executor pod (a fresh process)';
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(input.code) + 1));
  return [
    `Runs in ${where}, context **${escapeMarkdown(cluster.context)}**, namespace **${escapeMarkdown(cluster.namespace)}**:`,
    '',
    `${fence}${input.language ?? 'python'}`,
    input.code,
    fence,
  ].join('\n');
}

/** The tool result's text: the output (its end kept past the limit) and the exit code. */
export function agentResultText(output: string, exitCode: number): string {
  const shown =
    output.length > agentResultLimit
      ? `[${output.length - agentResultLimit} characters of output left out]\n${output.slice(-agentResultLimit)}`
      : output;
  return `${shown}${shown.endsWith('\n') || shown === '' ? '' : '\n'}exit code ${exitCode}${
    exitCode === 124 ? ' (timed out)' : ''
  }`;
}

function longestBacktickRun(text: string): number {
  return Math.max(0, ...[...text.matchAll(/`+/g)].map((run) => run[0].length));
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (character) => `\\${character}`);
}
