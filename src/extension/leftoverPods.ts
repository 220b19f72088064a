import * as vscode from 'vscode';
import { clusterTargetOf } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';

/**
 * Pods an earlier window on this workspace left behind. VS Code does not deactivate an extension
 * whose remote host is killed (a code-server or SSH server shut down, a crash), so those pods
 * outlive their window; the next window on the workspace finds them by its client label once its
 * own first pod is up, and offers to delete them.
 */
export class LeftoverPods {
  private readonly checkedTargets = new Set<string>();

  constructor(private readonly ctx: Ctx) {}

  /** Called when one of this window's pods has started; checks each cluster target once. */
  afterPodStart(): void {
    this.check().catch((error: unknown) =>
      this.ctx.logger.warn(`could not look for pods left by an earlier session: ${String(error)}`),
    );
  }

  private async check(): Promise<void> {
    const settings = this.ctx.settings;
    // Pods kept on purpose (for reuse by a later window) are not leftovers.
    if (settings.cleanupPolicy === 'keep') {
      return;
    }
    const target = clusterTargetOf(settings);
    const key = JSON.stringify(target);
    if (this.checkedTargets.has(key)) {
      return;
    }
    this.checkedTargets.add(key);
    const { clientLabel, listManagedPods, reapOrphanedPods, sessionLabel } = await loadCore();
    const ownSession = this.ctx.podLabels[sessionLabel];
    const leftovers = (
      await listManagedPods({ ...target, client: this.ctx.podLabels[clientLabel] })
    )
      .filter((pod) => pod.session !== ownSession)
      .map((pod) => pod.name);
    if (leftovers.length === 0) {
      return;
    }
    this.ctx.logger.info(
      `pods left by an earlier session of this workspace: ${leftovers.join(', ')}`,
    );
    const choice = await vscode.window.showWarningMessage(
      `Pod Runner: ${leftovers.length} pod(s) from an earlier session of this workspace are still running: ${leftovers.join(', ')}. Delete them?`,
      'Delete',
      'Keep',
    );
    if (choice === 'Delete') {
      const deleted = await reapOrphanedPods({ ...target, only: leftovers });
      this.ctx.logger.info(`deleted pods left by an earlier session: ${deleted.join(', ')}`);
    }
  }
}
