/** The labels Pod Runner puts on what it creates, and by which it finds them again. */
export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'pod-runner';
/** One executor or gateway instance (a UUID). */
export const instanceLabel = 'pod-runner.dev/executor-id';
/** The client that created it: for the extension, a hash of the machine and the workspace. */
export const clientLabel = 'pod-runner.dev/client';
/** The client's session: for the extension, a hash of one window's session id. */
export const sessionLabel = 'pod-runner.dev/session';
/** The profile (`podRunner.profiles`) a pod was made from, when one was. */
export const profileLabel = 'pod-runner.dev/profile';
/** On a Jupyter gateway's Pod, Secret and Service: the gateway's pod name. */
export const jupyterServerLabel = 'autogen-kubernetes/jupyter-server';
/** On a gateway pod: each notebook's kernel, a JSON object by notebook key (notebookKernels.ts). */
export const notebookKernelsAnnotation = 'pod-runner.dev/notebook-kernels';
