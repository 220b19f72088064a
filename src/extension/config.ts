import * as vscode from 'vscode';
import {
  parseSettings,
  reconnectSettings,
  settingKeys,
  type PodRunnerSettings,
} from '../core/settings.ts';

export const configurationSection = 'podRunner';

/**
 * Reads and validates every setting in one place; with `scope` (a folder or a file in it) the
 * folder's own values of resource-scoped settings (what is synced, how a file runs) win.
 */
export function readSettings(scope?: vscode.Uri): PodRunnerSettings {
  const configuration = vscode.workspace.getConfiguration(configurationSection, scope);
  const raw: Record<string, unknown> = {};
  for (const key of settingKeys) {
    // Configuration values are read-only proxies: copy them into plain data.
    const value: unknown = valueOf(configuration, key);
    raw[key] =
      value === undefined || value === null
        ? undefined
        : (JSON.parse(JSON.stringify(value)) as unknown);
  }
  return parseSettings(raw);
}

/**
 * What closing the window does to the pods (`cleanupPolicy`, or the deprecated `autoRemove`),
 * read apart from the other settings: an invalid setting elsewhere must not keep pods from being
 * deleted. Either of the two invalid counts as its default, which deletes.
 */
export function readCleanupSettings(): Pick<PodRunnerSettings, 'cleanupPolicy'> {
  const configuration = vscode.workspace.getConfiguration(configurationSection);
  try {
    return parseSettings({
      autoRemove: configuration.get('autoRemove'),
      cleanupPolicy: valueOf(configuration, 'cleanupPolicy'),
    });
  } catch {
    return parseSettings({});
  }
}

/**
 * A setting's value; cleanupPolicy only when set (its default must not hide the deprecated
 * autoRemove, which it replaces when set itself).
 */
function valueOf(configuration: vscode.WorkspaceConfiguration, key: string): unknown {
  if (key !== 'cleanupPolicy') {
    return configuration.get(key);
  }
  const inspected = configuration.inspect(key);
  return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
}

/** Whether a configuration change touches a setting that needs new pods. */
export function needsReconnect(event: vscode.ConfigurationChangeEvent): boolean {
  return reconnectSettings.some((key) =>
    event.affectsConfiguration(`${configurationSection}.${key}`),
  );
}

/** The kubeconfig, context and namespace the settings choose (unset: the kubeconfig's own). */
export function clusterTargetOf(settings: PodRunnerSettings): {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
} {
  return {
    ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
    ...(settings.context ? { context: settings.context } : {}),
    ...(settings.namespace ? { namespace: settings.namespace } : {}),
  };
}
