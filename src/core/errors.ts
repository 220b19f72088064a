/** Typed errors of the core library; each message says what failed and what was expected. */

export class PodRunnerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input in an option or a spec: names its source (file, line/column) and the field. */
export class SpecError extends PodRunnerError {
  constructor(
    message: string,
    readonly source: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** An option with an invalid value. */
export class OptionError extends PodRunnerError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
  }
}

/** The kubeconfig cannot be loaded or lacks what was asked for. */
export class KubeconfigError extends PodRunnerError {}

/** A pod did not become ready: the cause, its Events and its last log lines. */
export class PodStartError extends PodRunnerError {
  constructor(
    message: string,
    readonly pod: string,
    readonly reason: string,
    readonly events: string[] = [],
    readonly logTail = '',
  ) {
    super(message);
  }
}

/** The Kubernetes API refused a request. */
export class KubernetesApiError extends PodRunnerError {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly reason?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A 403: names the verb and resource the user lacks. */
export class PermissionDeniedError extends KubernetesApiError {}

/** An exec connection ended before the command reported its exit status. */
export class ConnectionLostError extends PodRunnerError {
  constructor(
    readonly pod: string,
    readonly detail: string,
  ) {
    super(`connection lost before the command finished in pod ${pod}: ${detail}`);
  }
}

/**
 * A block whose connection was lost while it ran. `stopped`: it was still running in the pod
 * and was stopped once the API server answered again (false: it had ended, or could not be
 * stopped, as the message says). `output`: what it printed before the connection was lost.
 */
export class BlockInterruptedError extends ConnectionLostError {
  constructor(
    pod: string,
    detail: string,
    readonly stopped: boolean,
    readonly output: string,
  ) {
    super(pod, detail);
  }
}

/** A call made in the wrong lifecycle state (not started, stopped). */
export class ExecutorStateError extends PodRunnerError {}

/** The pod ended by itself (idle stop, deadline); it was deleted and start() makes a fresh one. */
export class PodStoppedError extends ExecutorStateError {
  constructor(readonly reason: string) {
    super(`${reason}; the next start creates a fresh pod`);
  }
}

/** Function definitions that cannot be written, installed or imported in the pod. */
export class FunctionsSetupError extends PodRunnerError {}

/** The Jupyter server or kernel cannot be reached. */
export class KernelConnectionError extends PodRunnerError {}

/** The Jupyter server refused the credentials. */
export class JupyterAuthError extends PodRunnerError {}

/** The kernel process died during the execution. */
export class KernelDiedError extends PodRunnerError {}

/** The command could not be started in the container (e.g. the executable does not exist). */
export class ExecStartError extends PodRunnerError {}

/** The port-forward could not reach the pod (gone, not running, nothing listening). */
export class PortForwardError extends PodRunnerError {}

/** A workspace sync or download that failed: names the file (or folder) and the reason. */
export class SyncError extends PodRunnerError {
  constructor(
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A pod that was deleted or stopped while in use: names it, why, and its last Events. */
export class PodGoneError extends PodRunnerError {
  constructor(
    message: string,
    readonly pod: string,
    readonly events: string[] = [],
  ) {
    super(message);
  }
}
