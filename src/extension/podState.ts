import * as vscode from 'vscode';

export type PodState = 'none' | 'starting' | 'ready' | 'busy' | 'error';

/** A pod's state as the status bar shows it, with an event when it changes. */
export class PodStateHolder implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<PodState>();
  readonly onDidChange = this.emitter.event;
  private current: PodState = 'none';
  lastError: Error | undefined;

  get state(): PodState {
    return this.current;
  }

  set(state: PodState, error?: Error): void {
    this.lastError = state === 'error' ? error : undefined;
    if (state !== this.current) {
      this.current = state;
      this.emitter.fire(state);
    }
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
