import * as vscode from 'vscode';
import type { PortForwardState } from '../core/index.ts';

export type PodState = 'none' | 'starting' | 'ready' | 'busy' | 'error';

/** A pod's state as the status bar shows it, with an event when it changes. */
export class PodStateHolder implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<PodState>();
  readonly onDidChange = this.emitter.event;
  private current: PodState = 'none';
  private reconnectingNow = false;
  lastError: Error | undefined;

  get state(): PodState {
    return this.current;
  }

  /** Whether the pod's connection is being re-established (network lost, laptop asleep). */
  get reconnecting(): boolean {
    return this.reconnectingNow;
  }

  /**
   * Follows the pod's connection (the gateway's port-forward, the executor's execs):
   * `reconnecting…` while it waits for the API server; a pod gone is an error.
   */
  followConnection(state: PortForwardState, podGone?: Error): void {
    const reconnecting = state === 'reconnecting';
    if (state === 'gone') {
      this.reconnectingNow = false;
      this.set('error', podGone);
    } else if (reconnecting !== this.reconnectingNow) {
      this.reconnectingNow = reconnecting;
      this.emitter.fire(this.current);
    }
  }

  set(state: PodState, error?: Error): void {
    this.lastError = state === 'error' ? error : undefined;
    if (state === 'none') {
      this.reconnectingNow = false;
    }
    if (state !== this.current) {
      this.current = state;
      this.emitter.fire(state);
    }
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
