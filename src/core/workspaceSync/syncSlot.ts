import { WorkspaceSync } from './workspaceSync.ts';
import type { PodTarget } from './podProgramRunner.ts';
import type { SyncedFolder } from './types.ts';

/**
 * The sync engine of an executor or server: made on first use for the running pod and dropped
 * with it, so a restarted pod starts from a fresh listing.
 */
export class WorkspaceSyncSlot {
  private engine: WorkspaceSync | undefined;

  constructor(private readonly running: () => { target: PodTarget; workspacePath: string }) {}

  get folders(): readonly SyncedFolder[] {
    return this.engine?.syncedFolders ?? [];
  }

  current(): WorkspaceSync {
    const { target, workspacePath } = this.running();
    if (!this.engine?.serves(target)) {
      this.engine?.close();
      this.engine = new WorkspaceSync(target, workspacePath);
    }
    return this.engine;
  }

  /** Drops the engine with its folder watches. */
  clear(): void {
    this.engine?.close();
    this.engine = undefined;
  }
}
