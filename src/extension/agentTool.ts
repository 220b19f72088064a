import * as vscode from 'vscode';
import type { KernelOutputEvent } from '../core/index.ts';
import { signalFromToken } from './cancellation.ts';
import type { Ctx } from './ctx.ts';
import { agentConfirmation, agentResultText, type AgentToolInput } from './agentToolText.ts';
import { runInPod } from './runInPod.ts';

/** The tool's name, as package.json's `languageModelTools` declares it. */
export const agentToolName = 'pod-runner_runCode';

/** The cluster the window's pods use, as the confirmation names it. */
function clusterOf(ctx: Ctx): { context: string; namespace: string } {
  const settings = ctx.settings;
  return {
    context: settings.context ?? 'the kubeconfig’s current context',
    namespace: settings.namespace ?? 'its default namespace',
  };
}

/** Runs the input on the executor pod (Run Selection's path) or the agent kernel: the result's text. */
async function run(ctx: Ctx, input: AgentToolInput, signal: AbortSignal): Promise<string> {
  if (input.target === 'kernel') {
    const language = input.language ?? 'python';
    if (language !== 'python') {
      throw new Error(`the kernel runs Python, not ${language}: use target "pod" for bash`);
    }
    ctx.output.show();
    ctx.output.write(`▶ agent tool · python · kernel pod ${ctx.kernels.podName ?? ''}\n`);
    const parts: string[] = [];
    const onOutput = (event: KernelOutputEvent) => {
      const text = eventText(event);
      if (text) {
        parts.push(text);
        ctx.output.write(text);
      }
    };
    const result = await ctx.kernels.runAgentCode(input.code, signal, onOutput);
    ctx.output.write(`■ exit code ${result.exitCode}\n`);
    return agentResultText(parts.join(''), result.exitCode);
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  const result = await runInPod(
    ctx,
    {
      language: input.language ?? 'python',
      code: input.code,
      label: 'agent tool',
      ...(folder ? { project: folder.uri } : {}),
    },
    signal,
  );
  return agentResultText(result.output, result.exitCode);
}

/** What a kernel output event shows as text: streams and errors; rich outputs are named. */
function eventText(event: KernelOutputEvent): string | undefined {
  switch (event.type) {
    case 'stream':
      return event.text;
    case 'error':
      return `${event.ename}: ${event.evalue}\n`;
    case 'execute_result':
    case 'display_data': {
      const plain = event.data['text/plain'];
      const rich = Object.keys(event.data).filter((mime) => mime !== 'text/plain');
      const text = typeof plain === 'string' ? `${plain}\n` : '';
      return rich.length > 0
        ? `${text}[${rich.join(', ')} output, shown in the kernel only]\n`
        : text;
    }
    default:
      return undefined;
  }
}

/**
 * "Run code in the Kubernetes pod" for agents in chat: asks before running (the code, the context
 * and the namespace) unless `podRunner.agentTool.confirm` is off for the workspace; streams the
 * output into the Output channel; a cancel from chat stops the remote process.
 */
export function registerAgentTool(ctx: Ctx): vscode.Disposable {
  return vscode.lm.registerTool<AgentToolInput>(agentToolName, {
    prepareInvocation: ({ input }) => {
      const where = input.target === 'kernel' ? 'the kernel pod' : 'the executor pod';
      const confirm = ctx.settings.agentTool.confirm;
      return {
        invocationMessage: `Running ${input.language ?? 'python'} in ${where}`,
        ...(confirm
          ? {
              confirmationMessages: {
                title: 'Run code in the Kubernetes pod?',
                message: new vscode.MarkdownString(agentConfirmation(input, clusterOf(ctx))),
              },
            }
          : {}),
      };
    },
    invoke: async ({ input }, token) => {
      const cancellation = signalFromToken(token);
      try {
        const text = await run(ctx, input, cancellation.signal);
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
      } finally {
        cancellation.dispose();
      }
    },
  });
}
