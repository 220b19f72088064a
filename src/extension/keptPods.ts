import * as vscode from 'vscode';
import type { GatewayKernelRecords, NotebookKernelRecord } from '../core/index.ts';
import { clusterTargetOf, readCleanupSettings } from './config.ts';
import type { Ctx } from './ctx.ts';
import { loadCore } from './lazyCore.ts';
import type { RunningCell } from './runningCell.ts';

/** The window's two pods, as the records name them. */
export type KeptPodRole = 'executor' | 'gateway';

/** A notebook's kernel: where it runs, its Jupyter session, the cell it was running, if any. */
export interface KeptKernel {
  gateway: string;
  kernelId: string;
  sessionId: string;
  running?: RunningCell;
}

/**
 * What the workspace state holds: the pods' names, where each runs, and each notebook's kernel
 * on the gateway.
 */
interface KeptRecord {
  pods: Partial<Record<KeptPodRole, string>>;
  /** The context and namespace of each pod (see targetOf); a record from before has none. */
  targets?: Partial<Record<KeptPodRole, string>>;
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
  /** The spec hash each of those pods carries (specHash.ts), when it carries one. */
  private foundSpecHashes: Partial<Record<KeptPodRole, string>> = {};

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
   * The window's pod of `role`, as `build` makes it (given a name, it adopts the pod of that
   * name): the kept one found running, used once, when `build` would make the same spec now;
   * otherwise a fresh one, after the kept one (with a gateway's Secret and Service) is deleted,
   * with the reason in the log and the status bar.
   */
  async podFor<Pod>(
    role: KeptPodRole,
    build: (podName?: string) => Pod,
    specHashOf: (pod: Pod) => string | undefined,
  ): Promise<Pod> {
    await this.discover();
    const name = this.found[role];
    if (name === undefined) {
      return build();
    }
    const keptHash = this.foundSpecHashes[role];
    delete this.found[role];
    delete this.foundSpecHashes[role];
    this.changed.fire();
    const kept = build(name);
    if (keptHash !== undefined && keptHash === specHashOf(kept)) {
      return kept;
    }
    const why =
      keptHash === undefined
        ? 'it has no record of the settings it was made with'
        : 'settings changed since the pod was kept';
    this.ctx.logger.info(
      `the ${role} pod ${name} kept by the last window is deleted (${why}): a new one starts`,
    );
    vscode.window.setStatusBarMessage(`Pod Runner: ${why}; starting a new ${role} pod`, 15_000);
    const { reapOrphanedPods } = await loadCore();
    await reapOrphanedPods({ ...clusterTargetOf(this.ctx.settings), only: [name] });
    await this.forgetPod(role);
    return build();
  }

  /** Records the pod of `role` that runs now; a new gateway makes the old one's kernels moot. */
  async recordPod(role: KeptPodRole, name: string): Promise<void> {
    const record = this.record();
    record.pods[role] = name;
    // The name at once (kernels are recorded only on the recorded gateway), where it runs after.
    delete record.targets?.[role];
    if (role === 'gateway') {
      record.kernels = kernelsOn(record, name);
    }
    await this.save(record);
    const target = await this.target().catch((error: unknown) => {
      this.ctx.logger.warn(`could not tell where the ${role} pod runs: ${String(error)}`);
    });
    const latest = this.record();
    if (target !== undefined && latest.pods[role] === name) {
      latest.targets = { ...latest.targets, [role]: target };
      await this.save(latest);
    }
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
    forget(record, role);
    await this.save(record);
  }

  /** The kernel recorded for `notebook` (on `gateway`, when given), if any. */
  kernelOf(notebook: string, gateway?: string): KeptKernel | undefined {
    const kernel = this.record().kernels[notebook];
    return gateway === undefined || kernel?.gateway === gateway ? kernel : undefined;
  }

  /**
   * The kernels recorded for `notebook` on the gateway `gateway`, to try in this order: workspace
   * state's, then the one the gateway pod records when it names another (a window whose state
   * lost the notebook's record, or another machine, finds it there). A disagreement is logged.
   */
  async recordedKernels(
    notebook: string,
    gateway: string,
    onPod: GatewayKernelRecords,
  ): Promise<KeptKernel[]> {
    const inState = this.kernelOf(notebook, gateway);
    const { notebookKernelKey } = await loadCore();
    const podRecord = await onPod.read().then(
      (records) => records[notebookKernelKey(notebook)],
      (error: unknown) => {
        this.ctx.logger.warn(`could not read the kernels recorded on ${gateway}: ${String(error)}`);
      },
    );
    if (podRecord === undefined || podRecord.kernelId === inState?.kernelId) {
      return inState ? [inState] : [];
    }
    if (inState) {
      this.ctx.logger.warn(
        `workspace state records kernel ${inState.kernelId} for ${notebook}, the gateway pod ${gateway} kernel ${podRecord.kernelId}: the first one that still runs is used`,
      );
    }
    return [...(inState ? [inState] : []), { gateway, ...podRecord }];
  }

  /**
   * Records `notebook`'s kernel, in workspace state and on the gateway pod (`onPod`); no other
   * notebook keeps a claim on that kernel. Only a kernel on the recorded gateway is recorded: one
   * on another pod (a profile's) must not replace it.
   */
  async recordKernel(
    notebook: string,
    kernel: KeptKernel,
    onPod: GatewayKernelRecords,
  ): Promise<void> {
    const record = this.record();
    if (record.pods.gateway !== kernel.gateway) {
      return;
    }
    // The cell recorded running on that same kernel stays recorded (it may be followed again).
    const previous = record.kernels[notebook];
    const running = previous?.kernelId === kernel.kernelId ? previous.running : undefined;
    for (const [other, { kernelId }] of Object.entries(record.kernels)) {
      if (kernelId === kernel.kernelId) {
        delete record.kernels[other];
      }
    }
    record.kernels[notebook] = { ...kernel, ...(running ? { running } : {}) };
    await this.save(record);
    const { kernelId, sessionId } = kernel;
    await this.recordOnPod(onPod, notebook, { kernelId, sessionId });
  }

  /**
   * Records the cell of `notebook` running now on `kernelId` (its request), or that none runs; a
   * cell on a kernel not recorded for the notebook is not.
   */
  async recordRunningCell(
    notebook: string,
    kernelId: string,
    running: KeptKernel['running'],
  ): Promise<void> {
    const record = this.record();
    const kernel = record.kernels[notebook];
    if (kernel?.kernelId === kernelId) {
      const { running: _ended, ...idle } = kernel;
      record.kernels[notebook] = running ? { ...idle, running } : idle;
      await this.save(record);
    }
  }

  /** Forgets `notebook`'s kernel, on the gateway pod too when it runs (`onPod`). */
  async forgetKernel(notebook: string, onPod?: GatewayKernelRecords): Promise<void> {
    const record = this.record();
    delete record.kernels[notebook];
    await this.save(record);
    if (onPod) {
      await this.recordOnPod(onPod, notebook, undefined);
    }
  }

  dispose(): void {
    this.changed.dispose();
  }

  /**
   * Finds the recorded pods of this window's cluster target running (to be reused); deletes
   * those ended or gone (a gateway's Secret and Service too) and forgets them. Pods recorded in
   * another context or namespace are left alone, for a window that looks there.
   */
  private async findRecordedPods(): Promise<void> {
    const record = this.record();
    if (Object.keys(record.pods).length === 0) {
      return;
    }
    if (readCleanupSettings().cleanupPolicy !== 'keep') {
      await this.save({ pods: {}, kernels: {} });
      return;
    }
    const target = await this.target();
    const recorded = (Object.entries(record.pods) as [KeptPodRole, string][]).filter(
      ([role]) => (record.targets?.[role] ?? target) === target,
    );
    const { clientLabel, listManagedPods, reapOrphanedPods } = await loadCore();
    const cluster = clusterTargetOf(this.ctx.settings);
    const pods = new Map(
      (await listManagedPods({ ...cluster, client: this.ctx.podLabels[clientLabel] })).map(
        (pod) => [pod.name, pod],
      ),
    );
    const ended: string[] = [];
    for (const [role, name] of recorded) {
      const { phase, specHash } = pods.get(name) ?? {};
      if (phase === 'Running' || phase === 'Pending') {
        this.found[role] = name;
        if (specHash !== undefined) {
          this.foundSpecHashes[role] = specHash;
        }
      } else {
        this.ctx.logger.info(
          `the ${role} pod ${name} kept by the last window is ${phase === undefined ? 'gone' : phase}: it is deleted`,
        );
        ended.push(name);
        forget(record, role);
      }
    }
    if (ended.length > 0) {
      await reapOrphanedPods({ ...cluster, only: ended });
    }
    await this.save(record);
    if (Object.keys(this.found).length > 0) {
      this.ctx.logger.info(
        `pods kept by the last window, reused on first use: ${Object.values(this.found).join(', ')}`,
      );
      this.changed.fire();
    }
  }

  /** The pod's record follows workspace state's; failing to write it is only logged. */
  private async recordOnPod(
    onPod: GatewayKernelRecords,
    notebook: string,
    kernel: NotebookKernelRecord | undefined,
  ): Promise<void> {
    const { notebookKernelKey } = await loadCore();
    await onPod.record(notebookKernelKey(notebook), kernel).catch((error: unknown) => {
      this.ctx.logger.warn(`could not record the notebook's kernel on its pod: ${String(error)}`);
    });
  }

  /** Where this window's pods run: the context and namespace its settings choose. */
  private async target(): Promise<string> {
    const { loadClusterTarget } = await loadCore();
    const { kubeConfig, namespace } = loadClusterTarget(clusterTargetOf(this.ctx.settings));
    return `${kubeConfig.getCurrentContext()}/${namespace}`;
  }

  private record(): KeptRecord {
    const stored = this.state.get<KeptRecord>(stateKey);
    return {
      pods: { ...stored?.pods },
      targets: { ...stored?.targets },
      kernels: { ...stored?.kernels },
    };
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

/** Forgets the pod of `role`, and with a gateway the kernels on it. */
function forget(record: KeptRecord, role: KeptPodRole): void {
  delete record.pods[role];
  delete record.targets?.[role];
  if (role === 'gateway') {
    record.kernels = {};
  }
}
