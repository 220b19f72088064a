export { WorkspaceSync } from './workspaceSync.ts';
export { WorkspaceSyncSlot } from './syncSlot.ts';
export type { LocalFileSystem } from './localTree.ts';
export type { PodTarget } from './podProgramRunner.ts';
export {
  defaultMaxFileBytes,
  type DownloadOptions,
  type DownloadResult,
  type SkippedPath,
  type SyncedFolder,
  type SyncOptions,
  type SyncProgress,
  type SyncResult,
} from './types.ts';
