import * as vscode from 'vscode';
import type { StartOptions } from '../core/index.ts';
import { cancellationError, signalFromToken } from './cancellation.ts';
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
  private readonly stopped = new vscode.EventEmitter<void>();
  /**
   * Fired when the pod is closed or the user cancels its start: what runs on it or waits for it
   * (notebook cells) should stop.
   */
  readonly onDidStop = this.stopped.event;
  private pod: P | undefined;
  /**
   * A start in progress: `launched` settles with the pod once its start returns (close() releases
   * that pod even when it came during the start); `started` is what callers wait for.
   */
  private starting:
    { launched: Promise<P>; started: Promise<P>; abort: AbortController } | undefined;
  /** Runs using the current pod. */
  private runs = 0;
  /** How many times close() was called: a replace() sees whether a close came during its own. */
  private closes = 0;
  /** Pods earlier close() calls are still releasing: a later close() ends after them too. */
  private releasing: Promise<unknown> = Promise.resolve();

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

  /**
   * Runs `action` on `pod`, with the state `busy` meanwhile if `pod` is the session's pod (a run
   * on a pod closed since then does not make the session look busy).
   */
  async use<T>(pod: P, action: () => Promise<T>): Promise<T> {
    const counted = pod === this.pod;
    if (counted) {
      this.runs++;
      this.status.set('busy');
    }
    try {
      return await action();
    } finally {
      if (counted && pod === this.pod) {
        this.runs--;
        this.status.set(this.runs > 0 ? 'busy' : 'ready');
      }
    }
  }

  /**
   * Ends the session's pod: a start in progress is cancelled, and each pod (started, or finished
   * starting meanwhile) is handed to `release`, which deletes or keeps it. The session forgets
   * the pod at once, so a second close() does not release it again and a start may follow.
   */
  async close(release: (pod: P) => Promise<void>): Promise<void> {
    const starting = this.starting;
    // Both, when a pod that stopped being usable is being replaced.
    const current = this.pod;
    this.starting = undefined;
    this.pod = undefined;
    this.runs = 0;
    this.closes++;
    starting?.abort.abort();
    this.stopped.fire();
    const released = (async () => {
      const launched = await starting?.launched.catch(() => undefined);
      const pods = new Set([current, launched].filter((pod) => pod !== undefined));
      await Promise.all([...pods].map(release));
    })();
    const earlier = this.releasing;
    this.releasing = Promise.allSettled([earlier, released]);
    try {
      await Promise.all([earlier, released]);
    } catch (error) {
      this.showIdle(error as Error);
      throw error;
    }
    this.showIdle();
  }

  /**
   * Closes the pod and starts a new one; rejects with an AbortError, starting nothing, when
   * another close() came while this one released the pod (a stop wins over a restart).
   */
  async replace(release: (pod: P) => Promise<void>): Promise<P> {
    const closing = this.close(release);
    const closes = this.closes;
    await closing;
    if (this.closes !== closes) {
      throw cancellationError(`the ${this.options.kind} was stopped during its restart`);
    }
    return this.ensureStarted();
  }

  dispose(): void {
    this.stopped.dispose();
    this.status.dispose();
  }

  /** After a close: `none` (or the release's error) unless a pod started or starts meanwhile. */
  private showIdle(error?: Error): void {
    if (!this.starting && !this.pod) {
      this.status.set(error ? 'error' : 'none', error);
    }
  }

  private async start(signal: AbortSignal): Promise<P> {
    this.status.set('starting');
    let cancelledByUser = false;
    try {
      const pod = await this.options.create();
      signal.throwIfAborted();
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
            cancelledByUser = cancellation.signal.aborted;
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
      if (signal.aborted) {
        // Cancelled by close(), which sets the state.
        throw error;
      }
      if (cancelledByUser) {
        // The user's Cancel on the progress: no pod, and not an error of the pod either.
        this.status.set('none');
        this.stopped.fire();
        throw cancellationError(`the ${this.options.kind} start was cancelled`);
      }
      this.status.set('error', error as Error);
      throw error;
    }
  }
}
