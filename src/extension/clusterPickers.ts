import * as vscode from 'vscode';
import { loadCore } from './lazyCore.ts';
import { configurationSection } from './config.ts';
import type { Ctx } from './ctx.ts';

function settingsTarget(): vscode.ConfigurationTarget {
  return vscode.workspace.workspaceFolders?.length
    ? vscode.ConfigurationTarget.Workspace
    : vscode.ConfigurationTarget.Global;
}

/** Quick pick of the kubeconfig's contexts; the choice goes into settings, never into the kubeconfig. */
export async function selectContext(ctx: Ctx): Promise<string | undefined> {
  const settings = ctx.settings;
  const { loadClusterTarget } = await loadCore();
  const target = loadClusterTarget(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {});
  const current = settings.context ?? target.context;
  const items = target.kubeConfig.getContexts().map((context) => ({
    label: context.name,
    description: context.name === current ? 'current' : '',
    detail: `cluster ${context.cluster} · user ${context.user}${context.namespace ? ` · namespace ${context.namespace}` : ''}`,
  }));
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Pod Runner: Select Context',
    placeHolder: 'Kubeconfig context for the pods',
  });
  if (picked) {
    await vscode.workspace
      .getConfiguration(configurationSection)
      .update('context', picked.label, settingsTarget());
  }
  return picked?.label;
}

/** Quick pick of namespaces from the cluster (or typed in when listing them is not allowed). */
export async function selectNamespace(ctx: Ctx): Promise<string | undefined> {
  const settings = ctx.settings;
  const { listNamespaceNames, loadClusterTarget } = await loadCore();
  const target = loadClusterTarget({
    ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
    ...(settings.context ? { context: settings.context } : {}),
  });
  let names: string[] = [];
  try {
    names = await listNamespaceNames(target);
  } catch (error) {
    ctx.logger.warn(`cannot list namespaces (${(error as Error).message}); asking for a name`);
  }
  const chosen = names.length
    ? await vscode.window.showQuickPick(names, {
        title: 'Pod Runner: Select Namespace',
        placeHolder: `current: ${settings.namespace ?? target.namespace}`,
      })
    : await vscode.window.showInputBox({
        title: 'Pod Runner: Namespace',
        value: settings.namespace ?? target.namespace,
      });
  if (chosen) {
    await vscode.workspace
      .getConfiguration(configurationSection)
      .update('namespace', chosen, settingsTarget());
  }
  return chosen;
}
