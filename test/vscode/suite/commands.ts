import * as vscode from 'vscode';
import { check, type HostFeature } from './host.ts';

export const commandsFeature: HostFeature = {
  feature: 'the contributed commands',
  tests: [
    {
      name: 'every contributed command is registered',
      run: async () => {
        const extension = vscode.extensions.getExtension('pod-runner.pod-runner')!;
        const contributed = (
          extension.packageJSON as { contributes: { commands: { command: string }[] } }
        ).contributes.commands.map((c) => c.command);
        const registered = new Set(await vscode.commands.getCommands(true));
        const missing = contributed.filter((command) => !registered.has(command));
        check(missing.length === 0, `not registered: ${missing.join(', ')}`);
      },
    },
  ],
};
