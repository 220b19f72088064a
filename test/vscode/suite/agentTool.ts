import * as vscode from 'vscode';
import { check, eventually, withTimeout, type HostFeature } from './host.ts';

const toolName = 'pod-runner_runCode';

/** Invokes the tool as an agent outside a chat request would, and returns the result's text. */
async function invoke(
  input: { code: string; language?: string; target?: string },
  token?: vscode.CancellationToken,
): Promise<string> {
  const result = await withTimeout(
    vscode.lm.invokeTool(toolName, { input, toolInvocationToken: undefined }, token),
    180_000,
    `the tool running ${input.code}`,
  );
  return result.content
    .map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : ''))
    .join('');
}

/** The agent tool's calls run without asking only where the workspace turned confirmation off. */
async function withoutConfirmation(run: () => Promise<void>): Promise<void> {
  const configuration = vscode.workspace.getConfiguration('podRunner');
  await configuration.update('agentTool.confirm', false, vscode.ConfigurationTarget.Workspace);
  try {
    await run();
  } finally {
    await configuration.update(
      'agentTool.confirm',
      undefined,
      vscode.ConfigurationTarget.Workspace,
    );
  }
}

export const agentToolFeature: HostFeature = {
  feature: 'the language-model tool for agents',
  tests: [
    {
      name: 'vscode.lm.invokeTool runs Python in the executor pod in the synced project, and bash; the output also goes to the Output channel',
      run: async (api) => {
        check(
          vscode.lm.tools.some((tool) => tool.name === toolName),
          `the tool is registered: ${vscode.lm.tools.map((tool) => tool.name).join(', ')}`,
        );
        await withoutConfirmation(async () => {
          let written = '';
          const subscription = api.onDidWriteOutput((text) => (written += text));
          try {
            const text = await invoke({
              code: "from app.util import parse_row\nprint(parse_row(open('data/input.csv').read().splitlines()[1]))",
            });
            check(
              text === "('apples', 3, 0.5)\nexit code 0",
              `the project's package and data from the root: ${JSON.stringify(text)}`,
            );
            check(written.includes("('apples', 3, 0.5)"), `the Output channel: ${written}`);
          } finally {
            subscription.dispose();
          }
          const failed = await invoke({ code: 'echo $((6 * 7)); exit 3', language: 'bash' });
          check(failed === '42\nexit code 3', `bash and its exit code: ${JSON.stringify(failed)}`);
        });
      },
    },
    {
      name: 'target kernel keeps state across calls on its own kernel in the gateway pod',
      run: async (api) => {
        await withoutConfirmation(async () => {
          const first = await invoke({ code: 'x = 21', target: 'kernel' });
          check(first === 'exit code 0', `the first call: ${JSON.stringify(first)}`);
          const second = await invoke({ code: 'print(x * 2)', target: 'kernel' });
          check(second === '42\nexit code 0', `state across calls: ${JSON.stringify(second)}`);
          const error = await invoke({ code: '1 / 0', target: 'kernel' });
          check(
            error.includes('ZeroDivisionError: division by zero') && error.endsWith('exit code 1'),
            `an error: ${JSON.stringify(error)}`,
          );
          check(
            api.status().kernels.agent === 1,
            `the status counts the agent kernel: ${JSON.stringify(api.status().kernels)}`,
          );
        });
      },
    },
    {
      name: 'a cancel from the caller stops the remote process',
      run: async (api) => {
        await withoutConfirmation(async () => {
          const marker = `/tmp/agent-pid-${Date.now()}`;
          const source = new vscode.CancellationTokenSource();
          const running = invoke(
            {
              code: `import os, time\nopen('${marker}', 'w').write(str(os.getpid()))\ntime.sleep(300)`,
            },
            source.token,
          ).then(
            (text) => ({ text }),
            (error: unknown) => ({ error }),
          );
          const pid = await eventually(
            async () => {
              const { output } = await api.runCode('bash', `cat ${marker} 2>/dev/null`);
              return output.trim() || undefined;
            },
            60_000,
            'the sleeping process to start',
          );
          source.cancel();
          const outcome = await running;
          check('error' in outcome, `the call was cancelled: ${JSON.stringify(outcome)}`);
          await eventually(
            async () => {
              const { output } = await api.runCode('bash', `test -e /proc/${pid} || echo gone`);
              return output.trim() === 'gone' ? true : undefined;
            },
            30_000,
            `process ${pid} to be stopped in the pod`,
          );
        });
      },
    },
  ],
};
