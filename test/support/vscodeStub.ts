/**
 * A stand-in for the parts of the `vscode` module that extension classes use outside their UI
 * (settings, events, messages, a notebook controller that is never shown), so they run under
 * node:test. Install it with `useVscodeStub.ts`.
 */
/** The settings' values as the user set them (user settings), by key in the podRunner section. */
export const configurationValues = new Map<string, unknown>();
/** The defaults the extension's manifest gives, which `get` returns for a setting not set. */
export const configurationDefaults = new Map<string, unknown>();

export class EventEmitter<T> {
  private listeners: ((value: T) => void)[] = [];
  readonly event = (listener: (value: T) => void) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(value: T): void {
    for (const listener of this.listeners) {
      listener(value);
    }
  }
  dispose(): void {
    this.listeners = [];
  }
}

const noSubscription = () => ({ dispose: () => {} });

export const notebooks = {
  createNotebookController: (id: string, notebookType: string, label: string) => ({
    id,
    notebookType,
    label,
    onDidChangeSelectedNotebooks: noSubscription,
    dispose: () => {},
  }),
};

export const workspace = {
  onDidCloseNotebookDocument: noSubscription,
  getConfiguration: () => ({
    get: (key: string) => configurationValues.get(key) ?? configurationDefaults.get(key),
    inspect: (key: string) => ({
      key,
      defaultValue: configurationDefaults.get(key),
      globalValue: configurationValues.get(key),
    }),
  }),
};

export const ProgressLocation = { Notification: 15 } as const;

export const window = {
  showInformationMessage: () => Promise.resolve(undefined),
  showWarningMessage: () => Promise.resolve(undefined),
  setStatusBarMessage: () => ({ dispose: () => undefined }),
  showErrorMessage: () => Promise.resolve(undefined),
  /** Runs the task at once, with a progress nobody sees and a token never cancelled. */
  withProgress: <T>(
    _options: unknown,
    task: (
      progress: { report(value: unknown): void },
      token: { isCancellationRequested: boolean; onCancellationRequested: typeof noSubscription },
    ) => Promise<T>,
  ) =>
    task(
      { report: () => {} },
      { isCancellationRequested: false, onCancellationRequested: noSubscription },
    ),
};
