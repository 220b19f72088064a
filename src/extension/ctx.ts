import * as vscode from 'vscode';
import type { Logger, PodRunnerSettings } from '../core/index.ts';
import { configurationSection, needsReconnect, readSettings } from './config.ts';
import { ExecutorSession } from './executorSession.ts';
import { KeptPods } from './keptPods.ts';
import { LeftoverPods } from './leftoverPods.ts';
import { windowPodLabels } from './windowIdentity.ts';
import { InteractiveWindows } from './interactiveWindows.ts';
import { KernelController } from './kernelController.ts';
import { channelLogger } from './logging.ts';
import { PodLogsProvider, podLogsScheme } from './podLogs.ts';
import { Profiles } from './profiles.ts';
import { RunOutput } from './runOutput.ts';
import { registerTracebackLinks } from './tracebackLinks.ts';
import { WorkspaceSync } from './workspaceSync.ts';

/** What the extension holds for the window's lifetime, passed explicitly to every part. */
export class Ctx implements vscode.Disposable {
  readonly logChannel = vscode.window.createOutputChannel('Pod Runner', { log: true });
  readonly logger: Logger = channelLogger(this.logChannel);
  readonly output = new RunOutput();
  /** Mirrors the open folders into the pods; remembers which skipped files it has reported. */
  readonly workspaceSync = new WorkspaceSync((resource) => this.settingsFor(resource));
  /** On every pod this window creates: which workspace (client) and which window (session). */
  readonly podLabels = windowPodLabels(
    vscode.env.machineId,
    (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.toString()),
    vscode.env.sessionId,
  );
  readonly leftovers = new LeftoverPods(this);
  /** The window's profile choice and the profiles' own notebook controllers. */
  readonly profiles = new Profiles(this);
  /** The pods and kernels this workspace keeps across windows (cleanupPolicy `keep`). */
  readonly keptPods: KeptPods;
  /** The executor pod (Run Selection, Run File, the API, stateless notebook cells). */
  readonly executor = new ExecutorSession(this);
  /** Each `.py` file's Interactive Window, run on the gateway pod's kernels. */
  readonly interactive: InteractiveWindows;
  /** The gateway-pod notebook controller and its kernels. */
  readonly kernels = new KernelController(this);
  readonly podLogs = new PodLogsProvider(this);
  /** Everything that lives as long as the window's extension host; disposed last-in first-out. */
  private readonly disposables: vscode.Disposable[] = [];
  private closingPods: Promise<void> | undefined;
  private disposed = false;

  constructor(readonly extension: vscode.ExtensionContext) {
    extension.subscriptions.push(this);
    this.interactive = new InteractiveWindows();
    this.keptPods = new KeptPods(this, extension.workspaceState);
    this.disposables.push(
      this.keptPods,
      this.output,
      this.executor,
      this.kernels,
      this.interactive,
      this.profiles,
      this.podLogs,
      vscode.workspace.registerTextDocumentContentProvider(podLogsScheme, this.podLogs),
      registerTracebackLinks(),
    );
    vscode.workspace.onDidChangeConfiguration(
      (event) => void this.onConfigurationChanged(event),
      null,
      this.disposables,
    );
  }

  /** The validated settings, read fresh (VS Code caches the configuration itself). */
  get settings(): PodRunnerSettings {
    return readSettings();
  }

  /** The settings as the folder of `resource` sees them (its own sync and Run File settings). */
  settingsFor(resource: vscode.Uri): PodRunnerSettings {
    return readSettings(resource);
  }

  push(...disposables: vscode.Disposable[]): void {
    this.disposables.push(...disposables);
  }

  /** Shows one actionable error: the message, with Open Logs and the fix the error points at. */
  async showError(message: string, error: unknown): Promise<void> {
    this.logger.error(error instanceof Error ? error : new Error(String(error)));
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const actions = ['Open Logs', 'Select Context', 'Open Settings'];
    const choice = await vscode.window.showErrorMessage(
      `Pod Runner: ${message}: ${detail}`,
      ...actions,
    );
    if (choice === 'Open Logs') {
      this.logChannel.show();
    } else if (choice === 'Select Context') {
      await vscode.commands.executeCommand('podRunner.selectContext');
    } else if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'podRunner');
    }
  }

  private async onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    // The profiles' own pods follow their definitions; the window's pods only the chosen one's.
    const chosenProfileChanged =
      event.affectsConfiguration(`${configurationSection}.profiles`) &&
      this.profiles.followChange();
    const kernelState = this.kernels.status.state;
    if (
      !(needsReconnect(event) || chosenProfileChanged) ||
      (this.executor.status.state === 'none' && kernelState === 'none')
    ) {
      return;
    }
    if (this.executor.isBusy || kernelState === 'busy') {
      const answer = await vscode.window.showWarningMessage(
        'Pod Runner settings changed while code is running. Reconnect now (the running code is stopped)?',
        'Reconnect',
        'Later',
      );
      if (answer !== 'Reconnect') {
        this.logger.info('settings changed: reconnect postponed; the pods keep the old settings');
        return;
      }
    }
    this.logger.info('settings changed: the pods are replaced on the next run');
    await this.stopPods(true);
  }

  /**
   * Stops both pods; `force` deletes them even when cleanupPolicy keeps them, and the pods the
   * last window kept that this one has not reused. One pod that fails to stop does not keep the
   * other: the first failure is thrown once all are done.
   */
  async stopPods(force: boolean): Promise<void> {
    const results = await Promise.allSettled([
      this.executor.stop(force),
      this.kernels.stop(force),
      this.profiles.stop(force),
      force ? this.keptPods.removeWaiting() : undefined,
    ]);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
  }

  /**
   * What closing the window does to its pods, as `cleanupPolicy` says: deleted, or left running
   * (kernels too) for the next window. Done once, however often asked (VS Code calls deactivate,
   * then disposes the subscriptions without waiting).
   */
  closePods(): Promise<void> {
    this.closingPods ??= this.stopPods(false);
    return this.closingPods;
  }

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    const closed = this.closePods().catch((error: unknown) =>
      this.logger.error(`could not delete the pods: ${String(error)}`),
    );
    for (const disposable of this.disposables.reverse()) {
      disposable.dispose();
    }
    // The pods' deletion logs to the channel until it is done.
    void closed.finally(() => this.logChannel.dispose());
  }
}
