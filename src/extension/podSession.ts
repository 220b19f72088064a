import * as vscode from 'vscode';
import type { StartOptions } from '../core/index.ts';
import { signalFromToken } from './cancellation.ts';
import { PodStateHolder } from './podState.ts';

/** A pod the window starts once and then reuses: the executor, or the Jupyter gateway server. */
export interface SessionPod {
  readonly podName: string;
  start(options: StartOptions): Promise<void>;
}

export interface PodSessionOptions<P extends SessionPod> {
  /** How the progress notification names the pod: "pod", "kernel pod". */
  kind: string;
  /** Builds the pod object from the current settings (nothing is created in the cluster yet). */
  create: () => Promise<P>;
  /** False once a started pod can no longer be used; the next use starts a new one. */
  isRunning?: (pod: P) => boolean;
  /** Told when a pod has started (the window then looks for pods an earlier window left). */
  afterStart: () => void;
}

/**
 * One of the window's pods through its life: started once, on first use, under a cancellable
 * progress notification that shows the pod's phase and events; its state for the status bar
 * (`busy` while any run uses it); closed on request, which also cancels a start in progress.
 */
export class PodSession<P extends SessionPod> implements vscode.Disposable {
  readonly status = new PodStateHolder();
  private pod: P | undefined;
  /**
   * A start in progress: `launched` settles with the pod once its start returns (close() releases
   * that pod even when it came during the start); `started` is what callers wait for.
   */
  private starting:
    { launched: Promise<P>; started: Promise<P>; abort: AbortController } | undefined;
  private runs = 0;

  constructor(private readonly options: PodSessionOptions<P>) {}

  /** The started pod, if it is still usable. */
  get running(): P | undefined {
    const pod = this.pod;
    return pod && (this.options.isRunning?.(pod) ?? true) ? pod : undefined;
  }

  get isBusy(): boolean {
    return this.runs > 0;
  }

  /** The started pod; starts it (once, however many callers wait) when there is none. */
  ensureStarted(): Promise<P> {
    const running = this.running;
    if (running) {
      return Promise.resolve(running);
    }
    if (!this.starting) {
      const abort = new AbortController();
      const launched = this.start(abort.signal);
      const started = launched
        .then((pod) => {
          // Closed while it started: close() deletes this pod, so it is nobody's to use.
          abort.signal.throwIfAborted();
          return pod;
        })
        .finally(() => {
          if (this.starting?.started === started) {
            this.starting = undefined;
          }
        });
      this.starting = { launched, started, abort };
    }
    return this.starting.started;
  }

  /** Runs `action` with the pod's state `busy` meanwhile. */
  async use<T>(action: () => Promise<T>): Promise<T> {
    const pod = this.pod;
    this.runs++;
    this.status.set('busy');
    try {
      return await action();
    } finally {
      this.runs--;
      if (this.runs === 0 && pod !== undefined && this.pod === pod) {
        this.status.set('ready');
      }
    }
  }

  /**
   * Ends the session's pod: a start in progress is cancelled, and each pod (started, or finished
   * starting meanwhile) is handed to `release`, which deletes or keeps it.
   */
  async close(release: (pod: P) => Promise<void>): Promise<void> {
    const starting = this.starting;
    this.starting = undefined;
    starting?.abort.abort();
    // Both, when a pod that stopped being usable is being replaced.
    const current = this.pod;
    const launched = await starting?.launched.catch(() => undefined);
    this.pod = undefined;
    const pods = new Set([current, launched].filter((pod) => pod !== undefined));
    await Promise.all([...pods].map(release));
    this.status.set('none');
  }

  dispose(): void {
    this.status.dispose();
  }

  private async start(signal: AbortSignal): Promise<P> {
    this.status.set('starting');
    try {
      const pod = await this.options.create();
      await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Pod Runner: starting ${this.options.kind} ${pod.podName}`,
          cancellable: true,
        },
        async (progress, token) => {
          const cancellation = signalFromToken(token);
          try {
            await pod.start({
              signal: AbortSignal.any([signal, cancellation.signal]),
              onProgress: ({ phase, message }) =>
                progress.report({ message: message === phase ? phase : `${phase} · ${message}` }),
            });
          } finally {
            cancellation.dispose();
          }
        },
      );
      if (!signal.aborted) {
        this.pod = pod;
        this.status.set('ready');
        this.options.afterStart();
      }
      return pod;
    } catch (error) {
      // A start cancelled by close() is not an error of the pod: close() sets the state.
      if (!signal.aborted) {
        this.status.set('error', error as Error);
      }
      throw error;
    }
  }
}
