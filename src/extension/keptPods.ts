import * as vscode from 'vscode';
import { clusterTargetOf, readCleanupSettings } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';

/** The window's two pods, as the records name them. */
export type KeptPodRole = 'executor' | 'gateway';

/** A notebook's kernel: where it runs, its Jupyter session, the cell it was running, if any. */
export interface KeptKernel {
  gateway: string;
  kernelId: string;
  sessionId: string;
  running?: { cell: number; requestId: string };
}

/** What the workspace state holds: the pods' names, and each notebook's kernel on the gateway. */
interface KeptRecord {
  pods: Partial<Record<KeptPodRole, string>>;
  /** By notebook URI. */
  kernels: Record<string, KeptKernel>;
}

const stateKey = 'podRunner.keptPods';

/**
 * The pods this workspace keeps for its next window (cleanupPolicy `keep`) and each notebook's
 * kernel on the gateway, recorded in workspace state. The next window looks the recorded names up
 * among the pods that carry this workspace's client label (never by guessing) and reuses those
 * still running; a notebook gets back only the kernel recorded for it.
 */
export class KeptPods implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fired when the kept pods found (or still waiting to be reused) change. */
  readonly onDidChange = this.changed.event;
  private lookup: Promise<void> | undefined;
  /** Recorded pods found running when the window opened that this window has not reused yet. */
  private found: Partial<Record<KeptPodRole, string>> = {};

  constructor(
    private readonly ctx: Pick<Ctx, 'settings' | 'podLabels' | 'logger'>,
    private readonly state: vscode.Memento,
  ) {}

  /** Kept pods waiting to be reused, by role (for the status bar). */
  get waiting(): Partial<Record<KeptPodRole, string>> {
    return { ...this.found };
  }

  /**
   * Looks the recorded pods up in the cluster, once per window: a failed look is not kept, the
   * next caller looks again. Never rejects.
   */
  discover(): Promise<void> {
    this.lookup ??= this.findRecordedPods().catch((error: unknown) => {
      this.lookup = undefined;
      this.ctx.logger.warn(`could not look for the pods kept by the last window: ${String(error)}`);
    });
    return this.lookup;
  }

  /**
   * The name for the window's pod of `role`: the kept one found running (used once), so the
   * start adopts it; undefined for a fresh pod.
   */
  async reuse(role: KeptPodRole): Promise<string | undefined> {
    await this.discover();
    const name = this.found[role];
    if (name !== undefined) {
      delete this.found[role];
      this.changed.fire();
    }
    return name;
  }

  /** Records the pod of `role` that runs now; a new gateway makes the old one's kernels moot. */
  async recordPod(role: KeptPodRole, name: string): Promise<void> {
    const record = this.record();
    record.pods[role] = name;
    if (role === 'gateway') {
      record.kernels = kernelsOn(record, name);
    }
    await this.save(record);
  }

  /** Deletes the kept pods this window has not reused (a gateway's Secret too) and forgets them. */
  async removeWaiting(): Promise<void> {
    await this.discover();
    const waiting = Object.entries(this.found) as [KeptPodRole, string][];
    if (waiting.length === 0) {
      return;
    }
    this.found = {};
    this.changed.fire();
    const { reapOrphanedPods } = await loadCore();
    await reapOrphanedPods({
      ...clusterTargetOf(this.ctx.settings),
      only: waiting.map(([, name]) => name),
    });
    for (const [role] of waiting) {
      await this.forgetPod(role);
    }
  }

  /** Forgets the pod of `role` (deleted), with the gateway's kernels. */
  async forgetPod(role: KeptPodRole): Promise<void> {
    const record = this.record();
    delete record.pods[role];
    if (role === 'gateway') {
      record.kernels = {};
    }
    await this.save(record);
  }

  /** The kernel recorded for `notebook` (on `gateway`, when given), if any. */
  kernelOf(notebook: string, gateway?: string): KeptKernel | undefined {
    const kernel = this.record().kernels[notebook];
    return gateway === undefined || kernel?.gateway === gateway ? kernel : undefined;
  }

  /** Records `notebook`'s kernel; no other notebook keeps a claim on that kernel. */
  async recordKernel(notebook: string, kernel: KeptKernel): Promise<void> {
    const record = this.record();
    for (const [other, { kernelId }] of Object.entries(record.kernels)) {
      if (kernelId === kernel.kernelId) {
        delete record.kernels[other];
      }
    }
    record.kernels[notebook] = kernel;
    await this.save(record);
  }

  /** Records the cell of `notebook` running now (its request), or that none runs. */
  async recordRunningCell(notebook: string, running: KeptKernel['running']): Promise<void> {
    const record = this.record();
    const kernel = record.kernels[notebook];
    if (kernel) {
      const { running: _ended, ...idle } = kernel;
      record.kernels[notebook] = running ? { ...idle, running } : idle;
      await this.save(record);
    }
  }

  async forgetKernel(notebook: string): Promise<void> {
    const record = this.record();
    delete record.kernels[notebook];
    await this.save(record);
  }

  dispose(): void {
    this.changed.dispose();
  }

  private async findRecordedPods(): Promise<void> {
    const record = this.record();
    const recorded = Object.entries(record.pods) as [KeptPodRole, string][];
    if (recorded.length === 0) {
      return;
    }
    if (readCleanupSettings().cleanupPolicy !== 'keep') {
      await this.save({ pods: {}, kernels: {} });
      return;
    }
    const { clientLabel, listManagedPods } = await loadCore();
    const running = new Set(
      (
        await listManagedPods({
          ...clusterTargetOf(this.ctx.settings),
          client: this.ctx.podLabels[clientLabel],
        })
      )
        .filter((pod) => pod.phase === 'Running' || pod.phase === 'Pending')
        .map((pod) => pod.name),
    );
    for (const [role, name] of recorded) {
      if (running.has(name)) {
        this.found[role] = name;
      } else {
        this.ctx.logger.info(`the ${role} pod ${name} kept by the last window is gone`);
        delete record.pods[role];
      }
    }
    if (record.pods.gateway === undefined) {
      record.kernels = {};
    }
    await this.save(record);
    if (Object.keys(this.found).length > 0) {
      this.ctx.logger.info(
        `pods kept by the last window, reused on first use: ${Object.values(this.found).join(', ')}`,
      );
      this.changed.fire();
    }
  }

  private record(): KeptRecord {
    const stored = this.state.get<KeptRecord>(stateKey);
    return { pods: { ...stored?.pods }, kernels: { ...stored?.kernels } };
  }

  private async save(record: KeptRecord): Promise<void> {
    await this.state.update(stateKey, record);
  }
}

function kernelsOn(record: KeptRecord, gateway: string): KeptRecord['kernels'] {
  return Object.fromEntries(
    Object.entries(record.kernels).filter(([, kernel]) => kernel.gateway === gateway),
  );
}
