import type { Manifest } from './manifest.ts';
import type { SkippedPath, SyncOptions } from './types.ts';

/** One sync of a folder: what it knows of the pod, and what it did so far. */
export interface SyncRun {
  options: SyncOptions;
  root: string;
  localDir: string;
  manifest: Manifest;
  skipped: SkippedPath[];
  apiCalls: number;
  sent: number;
  deleted: number;
  bytes: number;
  total: number;
  /** The program that wrote the last batch. */
  receiver?: string;
  /** A few small records: sh may write them, which starts faster than python. */
  small: boolean;
  /** The receiver found no marker of this engine: another pod (or container) of that name. */
  newPod: boolean;
  /** Whether the manifest came from a listing made by this sync. */
  listed: boolean;
  /** A file was sent with another size than the walk saw, or not at all: the pod may differ. */
  inexact: boolean;
}

export function newRun(
  options: SyncOptions,
  root: string,
  localDir: string,
  manifest: Manifest = new Map(),
): SyncRun {
  return {
    options,
    root,
    localDir,
    manifest,
    skipped: [],
    apiCalls: 0,
    sent: 0,
    deleted: 0,
    bytes: 0,
    total: 0,
    small: false,
    newPod: false,
    listed: Boolean(options.verify),
    inexact: false,
  };
}
