import { createHash } from 'node:crypto';
import {
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type V1Pod,
} from '@kubernetes/client-node';
import { withApiRetry } from './apiRetry.ts';
import { KubernetesApiError } from './errors.ts';
import { translateApiError } from './kubernetesErrors.ts';

import { notebookKernelsAnnotation } from './podLabels.ts';

export { notebookKernelsAnnotation };

/** A notebook's kernel on the gateway and the Jupyter session it belongs to. */
export interface NotebookKernelRecord {
  kernelId: string;
  sessionId: string;
}

/** By notebook key (notebookKernelKey). */
export type NotebookKernelRecords = Record<string, NotebookKernelRecord>;

/** The calls the records need, so a test can stand between them. */
export type PodRecordApi = Pick<CoreV1Api, 'readNamespacedPod' | 'patchNamespacedPod'>;

/**
 * Records one pod keeps at most, the oldest dropped first (a notebook long gone): about 140 KB,
 * well under the API server's 256 KiB for all of a pod's annotations.
 */
export const maxNotebookKernelRecords = 1000;

/** How often a write whose pod changed meanwhile (409) is tried again on the new version. */
const conflictAttempts = 8;

/**
 * A notebook's key on the gateway pod: a SHA-256 prefix of its URI, so the cluster never sees a
 * local path, and the same notebook gets the same key in every window.
 */
export function notebookKernelKey(notebookUri: string): string {
  return createHash('sha256').update(notebookUri).digest('hex').slice(0, 32);
}

/**
 * Each notebook's kernel, kept on the gateway pod itself (an annotation), so a window that lost
 * its own record, or another machine, finds the notebook's kernel again. Writes are
 * read-modify-write on the pod's resourceVersion: a writer that raced another one reads the new
 * version and applies its change again, so neither change is lost.
 */
export class GatewayKernelRecords {
  constructor(
    private readonly core: PodRecordApi,
    private readonly namespace: string,
    private readonly pod: string,
  ) {}

  async read(): Promise<NotebookKernelRecords> {
    return recordsOf(await this.readPod());
  }

  /**
   * Records the kernel of notebook `key`, or with undefined forgets it; no other notebook keeps a
   * claim on that kernel (two notebooks never share one).
   */
  async record(key: string, record: NotebookKernelRecord | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const pod = await this.readPod();
      const current = recordsOf(pod);
      const next = withRecord(current, key, record);
      if (JSON.stringify(next) === JSON.stringify(current)) {
        return;
      }
      try {
        await this.patch(pod.metadata?.resourceVersion, next);
        return;
      } catch (error) {
        const translated = translateApiError(
          error,
          `record a notebook's kernel on pod ${this.pod}`,
        );
        const conflict = translated instanceof KubernetesApiError && translated.statusCode === 409;
        if (!conflict || attempt === conflictAttempts) {
          throw translated;
        }
      }
    }
  }

  private async readPod(): Promise<V1Pod> {
    try {
      return await withApiRetry(
        () => this.core.readNamespacedPod({ namespace: this.namespace, name: this.pod }),
        { idempotent: true },
      );
    } catch (error) {
      throw translateApiError(error, `read pod ${this.pod}`);
    }
  }

  /** A merge patch of the annotation alone, refused (409) unless the pod is still at `version`. */
  private async patch(version: string | undefined, records: NotebookKernelRecords): Promise<void> {
    const body = {
      metadata: {
        ...(version !== undefined ? { resourceVersion: version } : {}),
        annotations: { [notebookKernelsAnnotation]: JSON.stringify(records) },
      },
    };
    // Repeatable: once applied, the version no longer matches and a repeat is a conflict.
    await withApiRetry(
      () =>
        this.core.patchNamespacedPod(
          { namespace: this.namespace, name: this.pod, body },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      { idempotent: true },
    );
  }
}

/** The pod's records; entries that are not a kernel and session id (edited by hand) are left out. */
function recordsOf(pod: V1Pod): NotebookKernelRecords {
  const text = pod.metadata?.annotations?.[notebookKernelsAnnotation];
  let parsed: unknown;
  try {
    parsed = text === undefined ? {} : JSON.parse(text);
  } catch {
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return {};
  }
  const records: NotebookKernelRecords = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const { kernelId, sessionId } = (value ?? {}) as Partial<Record<string, unknown>>;
    if (typeof kernelId === 'string' && typeof sessionId === 'string') {
      records[key] = { kernelId, sessionId };
    }
  }
  return records;
}

function withRecord(
  records: NotebookKernelRecords,
  key: string,
  record: NotebookKernelRecord | undefined,
): NotebookKernelRecords {
  const kept = Object.entries(records).filter(
    ([other, { kernelId }]) => other !== key && kernelId !== record?.kernelId,
  );
  if (record) {
    kept.push([key, record]);
  }
  return Object.fromEntries(kept.slice(-maxNotebookKernelRecords));
}
