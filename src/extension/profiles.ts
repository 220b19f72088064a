import * as vscode from 'vscode';
import { OptionError } from '../core/errors.ts';
import type { PodProfile, PodRunnerSettings } from '../core/index.ts';
import type { Ctx } from './ctx.ts';
import { KernelController } from './kernelController.ts';
import { summary } from './profilePods.ts';

/** The workspace-state key of the profile this window's pods use. */
const activeProfileKey = 'podRunner.activeProfile';

/**
 * The window's profiles: which one its pods use (kept in workspace state; none means the
 * settings alone), the picker, and one notebook controller per profile ("Kubernetes kernel —
 * gpu-large"), each with its own gateway pod.
 */
export class Profiles implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fired when the active profile changes. */
  readonly onDidChange = this.changed.event;
  /** Each profile's controller, and the profile's definition its pod was made for. */
  private readonly controllers = new Map<
    string,
    { controller: KernelController; definition: string }
  >();
  private readonly subscriptions: vscode.Disposable[] = [this.changed];

  constructor(private readonly ctx: Ctx) {
    this.update();
  }

  /** The profiles' own kernel controllers. */
  get kernelControllers(): KernelController[] {
    return [...this.controllers.values()].map(({ controller }) => controller);
  }

  /**
   * Follows a change of the profiles setting (see update); true when it changed the definition of
   * the window's chosen profile (or removed or added it), whose pods must then be replaced.
   */
  followChange(): boolean {
    const chosen = this.ctx.extension.workspaceState.get<string>(activeProfileKey);
    const changed = this.update();
    return chosen !== undefined && changed.has(chosen);
  }

  /**
   * The name of the profile this window's pods use, if any: the one chosen, while the settings
   * hold it (one removed from them is not named in the status bar, and is used again if put back).
   */
  get activeName(): string | undefined {
    const chosen = this.ctx.extension.workspaceState.get<string>(activeProfileKey);
    let names: string[] = [];
    try {
      names = this.ctx.settings.profiles.map((profile) => profile.name);
    } catch {
      // Invalid settings: no profile is usable (what uses them reports the error).
    }
    return chosen !== undefined && names.includes(chosen) ? chosen : undefined;
  }

  /**
   * The profile named `name` (default: the active one) in `settings`; a name the settings do
   * not hold (they changed meanwhile) means none: the settings alone, which the log says.
   */
  profileFor(settings: PodRunnerSettings, name = this.activeName): PodProfile | undefined {
    if (name === undefined) {
      return undefined;
    }
    const profile = settings.profiles.find((candidate) => candidate.name === name);
    if (!profile) {
      this.ctx.logger.warn(`profile "${name}" is not in podRunner.profiles: using the settings`);
    }
    return profile;
  }

  /**
   * Makes `name` (undefined: none) the profile of this window's pods. The executor pod and the
   * default kernel's gateway pod, when running, are replaced (after asking: their state is lost).
   */
  async select(name: string | undefined): Promise<void> {
    if (name === this.activeName) {
      return;
    }
    if (
      name !== undefined &&
      !this.ctx.settings.profiles.some((profile) => profile.name === name)
    ) {
      throw new OptionError('podRunner.profiles', `there is no profile named "${name}"`);
    }
    const running = [
      ...(this.ctx.executor.running ? ['the executor pod'] : []),
      ...(this.ctx.kernels.runningServer ? ['the kernel pod (its variables are lost)'] : []),
    ];
    if (running.length > 0) {
      const answer = await vscode.window.showWarningMessage(
        `Pod Runner: switching to ${describeChoice(name)} replaces ${running.join(' and ')}.`,
        { modal: true },
        'Switch',
      );
      if (answer !== 'Switch') {
        return;
      }
    }
    await this.ctx.extension.workspaceState.update(activeProfileKey, name);
    this.ctx.logger.info(`pods now use ${describeChoice(name)}`);
    this.changed.fire();
    if (running.length > 0) {
      await Promise.all([this.ctx.executor.stop(true), this.ctx.kernels.stop(true)]);
    }
  }

  /** Asks which profile the window's pods use. */
  async pick(): Promise<void> {
    const profiles = this.ctx.settings.profiles;
    const active = this.activeName;
    const none = { label: 'No profile', description: 'the podRunner settings alone', name: '' };
    const items = [
      none,
      ...profiles.map((profile) => ({
        label: profile.name,
        description: summary(profile),
        name: profile.name,
      })),
    ].map((item) => ({
      ...item,
      label: `${item.name === (active ?? '') ? '$(check)' : '$(blank)'} ${item.label}`,
    }));
    const picked = await vscode.window.showQuickPick(items, {
      title:
        profiles.length > 0
          ? 'Pod Runner: the profile of this window’s pods'
          : 'Pod Runner: no profiles yet (add them in the podRunner.profiles setting)',
    });
    if (picked) {
      await this.select(picked.name || undefined);
    }
  }

  /**
   * Creates a notebook controller for each profile the settings hold, removes those of profiles
   * that are gone, and replaces the gateway pod of a profile that changed (unless a cell runs
   * on it: that pod keeps the old set-up until it is stopped). Invalid settings leave them as
   * they are (the settings' error is shown where they are used). Returns the names of the
   * profiles added, changed or removed.
   */
  private update(): Set<string> {
    const changed = new Set<string>();
    let profiles: PodProfile[];
    try {
      profiles = this.ctx.settings.profiles;
    } catch {
      return changed;
    }
    const definitions = new Map(profiles.map((profile) => [profile.name, JSON.stringify(profile)]));
    for (const [name, entry] of this.controllers) {
      const definition = definitions.get(name);
      if (definition === entry.definition) {
        continue;
      }
      changed.add(name);
      if (definition === undefined) {
        this.controllers.delete(name);
        void this.deletePod(name, entry.controller).finally(() => entry.controller.dispose());
      } else {
        entry.definition = definition;
        if (entry.controller.status.state === 'busy') {
          this.ctx.logger.info(
            `profile "${name}" changed while its kernel runs: its pod keeps the old set-up until it is stopped`,
          );
        } else {
          void this.deletePod(name, entry.controller);
        }
      }
    }
    for (const [name, definition] of definitions) {
      if (!this.controllers.has(name)) {
        changed.add(name);
        this.controllers.set(name, {
          controller: new KernelController(this.ctx, name),
          definition,
        });
      }
    }
    return changed;
  }

  /** Stops the profiles' kernels and gateway pods (deletes them when `force`). */
  async stop(force: boolean): Promise<void> {
    const results = await Promise.allSettled(
      [...this.controllers.values()].map(({ controller }) => controller.stop(force)),
    );
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
  }

  dispose(): void {
    for (const { controller } of this.controllers.values()) {
      controller.dispose();
    }
    this.controllers.clear();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }

  /** Deletes a profile's gateway pod (the next cell starts one); a failure is only logged. */
  private async deletePod(name: string, controller: KernelController): Promise<void> {
    try {
      await controller.stop();
    } catch (error) {
      this.ctx.logger.warn(
        `could not delete the kernel pod of profile "${name}": ${String(error)}`,
      );
    }
  }
}

function describeChoice(name: string | undefined): string {
  return name === undefined ? 'no profile' : `profile "${name}"`;
}
