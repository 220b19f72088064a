import { posix, relative, sep } from 'node:path';
import * as vscode from 'vscode';
import type { PodRunnerSettings, SyncOptions, SyncResult, SyncedFolder } from '../core/index.ts';
import { localToRemote } from '../core/pathMapping.ts';
import { isIgnored, parseIgnoreText } from '../core/workspaceSync/ignoreRules.ts';
import { RemoteRoots } from './remoteRoots.ts';

/** A pod the workspace is mirrored into: the executor pod or the Jupyter server pod. */
export interface SyncTarget {
  syncWorkspace(localDir: string, options?: SyncOptions): Promise<SyncResult>;
  readonly syncedFolders: readonly SyncedFolder[];
}

/** A workspace folder and where it lives in the pod. */
export interface ProjectFolder {
  folder: vscode.WorkspaceFolder;
  /** Absolute POSIX path of the folder's mirror in the pod. */
  root: string;
}

/**
 * The folder synced before code from `uri` runs, with its root in the pod; undefined when sync is
 * off or `uri` is not a file of an open folder (the code is then sent as text, as always).
 */
export function projectFolderOf(
  uri: vscode.Uri,
  settings: PodRunnerSettings,
): ProjectFolder | undefined {
  if (!settings.sync.enabled || uri.scheme !== 'file') {
    return undefined;
  }
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  return folder && folder.uri.scheme === 'file'
    ? { folder, root: remoteRootOf(folder, settings.workspacePath) }
    : undefined;
}

/** Every open folder that sync applies to (the Sync Workspace command syncs them all). */
export function projectFolders(settings: PodRunnerSettings): ProjectFolder[] {
  return (vscode.workspace.workspaceFolders ?? [])
    .filter((folder) => folder.uri.scheme === 'file')
    .map((folder) => ({ folder, root: remoteRootOf(folder, settings.workspacePath) }));
}

/** The roots given to this window's folders: each keeps its own while the window lives. */
const remoteRoots = new RemoteRoots();

function remoteRootOf(folder: vscode.WorkspaceFolder, workspacePath: string): string {
  const open = (vscode.workspace.workspaceFolders ?? []).map((other) => other.uri.fsPath);
  return remoteRoots.rootOf(folder.uri.fsPath, open, workspacePath);
}

/** The folder in the pod that holds a local file of the project: a notebook's working directory. */
export function remoteFolderOf(project: ProjectFolder, localFile: string): string {
  const mapping = { local: project.folder.uri.fsPath, remote: project.root };
  const remote = localToRemote(localFile, [mapping]);
  return remote ? posix.dirname(remote) : project.root;
}

/** A file's path in the project: relative to the folder, POSIX. */
function projectPathOf(project: ProjectFolder, localFile: string): string {
  return relative(project.folder.uri.fsPath, localFile).split(sep).join('/');
}

/** Why the sync skipped a file of the project (too large, unreadable...), if it did. */
export function skippedReason(
  project: ProjectFolder,
  localFile: string,
  synced: SyncResult,
): string | undefined {
  const path = projectPathOf(project, localFile);
  return synced.skipped.find((skip) => skip.path === path)?.reason;
}

/** Which rules keep a file of the project out of the pod: the exclude setting or git's. */
export function ignoredReason(
  project: ProjectFolder,
  localFile: string,
  exclude: readonly string[],
): string {
  const layers = [{ base: '', prefix: '', rules: parseIgnoreText(exclude.join('\n')) }];
  const parts = projectPathOf(project, localFile).split('/');
  const excluded = parts.some((_, index) =>
    isIgnored(layers, parts.slice(0, index + 1).join('/'), index < parts.length - 1),
  );
  return excluded
    ? 'excluded by podRunner.sync.exclude'
    : 'ignored by .gitignore or .git/info/exclude';
}

/** Mirrors folders into the pods with the settings' rules and says what each sync did. */
export class WorkspaceSync {
  /** Skipped files already reported, by path and reason: each is listed once per window. */
  private readonly reportedSkips = new Set<string>();

  constructor(private readonly readSettings: (resource: vscode.Uri) => PodRunnerSettings) {}

  sync(
    target: SyncTarget,
    project: ProjectFolder,
    options: Pick<SyncOptions, 'signal' | 'onProgress'> = {},
  ): Promise<SyncResult> {
    const { sync } = this.readSettings(project.folder.uri);
    return target.syncWorkspace(project.folder.uri.fsPath, {
      remoteRoot: project.root,
      exclude: sync.exclude,
      maxFileBytes: sync.maxFileBytes,
      ...options,
    });
  }

  /**
   * Syncs the folder of a notebook (or of the file an Interactive Window runs), `source`, before
   * a cell runs (nothing when sync is off or it is not in an open folder). Only a sync that
   * changed something, or skipped a file not reported before, is reported: a notebook syncs
   * before every cell.
   */
  async syncNotebook(
    target: SyncTarget,
    source: vscode.Uri,
    signal: AbortSignal,
    report: (text: string) => void,
  ): Promise<ProjectFolder | undefined> {
    const project = projectFolderOf(source, this.readSettings(source));
    if (!project) {
      return undefined;
    }
    const result = await this.sync(target, project, { signal });
    const description = this.describe(result);
    const newSkips = description.trimEnd().split('\n').length > 1;
    if (result.sent + result.deleted > 0 || newSkips) {
      report(`▷ ${vscode.workspace.asRelativePath(source)}\n${description}`);
    }
    return project;
  }

  /**
   * A line on what the sync did (`synced 3 files, 12 KB, 40 ms`), then one per skipped file not
   * reported before, with the reason.
   */
  describe(result: SyncResult): string {
    const lines = [`  ${syncSummary(result)} → ${result.root}`];
    for (const skipped of result.skipped) {
      const key = `${result.localDir}\0${skipped.path}\0${skipped.reason}`;
      if (!this.reportedSkips.has(key)) {
        this.reportedSkips.add(key);
        lines.push(`  not synced: ${skipped.path} (${skipped.reason})`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

/** `synced 3 files, 12 KB, 40 ms` (with deletions when there were some), or that nothing changed. */
export function syncSummary(result: SyncResult): string {
  if (result.sent === 0 && result.deleted === 0) {
    return `nothing changed since the last sync (${result.unchanged} files, ${result.ms} ms)`;
  }
  const counted = (count: number) => `${count} ${count === 1 ? 'file' : 'files'}`;
  return [
    ...(result.sent > 0 ? [`synced ${counted(result.sent)}, ${formatBytes(result.bytes)}`] : []),
    ...(result.deleted > 0 ? [`deleted ${counted(result.deleted)}`] : []),
    `${result.ms} ms`,
  ].join(', ');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
