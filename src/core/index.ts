export { redactSecrets, silentLogger, type Logger } from './logger.ts';
export {
  BlockInterruptedError,
  ConnectionLostError,
  ExecStartError,
  ExecutorStateError,
  FunctionsSetupError,
  JupyterAuthError,
  KernelConnectionError,
  KernelDiedError,
  KubeconfigError,
  KubernetesApiError,
  OptionError,
  PermissionDeniedError,
  PodRunnerError,
  PodGoneError,
  PodStartError,
  PodStoppedError,
  PortForwardError,
  SpecError,
  SyncError,
} from './errors.ts';
export { loadSpec, type JsonObject, type LoadedSpec, type SpecInput } from './specLoader.ts';
export {
  listNamespaceNames,
  loadClusterTarget,
  type ClusterTarget,
  type ClusterTargetOptions,
} from './kubeconfig.ts';
export { supportedLanguages, type CodeBlock, type CommandLineCodeResult } from './codeBlocks.ts';
export {
  defaultMaxOutputBytes,
  OutputCollector,
  type OutputChunk,
  type OutputStream,
} from './outputCollector.ts';
export {
  formatFunctionsForPrompt,
  withRequirements,
  type Alias,
  type FunctionWithRequirements,
  type GlobalImport,
  type ImportFromModule,
} from './functions.ts';
export { executorContainerName } from './executorPod.ts';
export { defaultIdleTimeoutMinutes, idleStopReason } from './idleStop.ts';
export {
  clientLabel,
  instanceLabel,
  jupyterServerLabel,
  managedByLabel,
  managedByValue,
  profileLabel,
  sessionLabel,
} from './podLabels.ts';
export { PodExecClient, type PodExecRequest, type PodExecResult } from './podExec.ts';
export {
  PodTerminal,
  type PodTerminalExit,
  type PodTerminalRequest,
  type TerminalOptions,
} from './podTerminal.ts';
export type { PodStartProgress, StartOptions } from './podLauncher.ts';
export {
  PodCommandLineCodeExecutor,
  type ExecuteOptions,
  type PodCommandLineCodeExecutorOptions,
  type RunFileOptions,
} from './podCommandLineCodeExecutor.ts';
export {
  jupyterApiUrl,
  jupyterBaseUrl,
  jupyterWebSocketUrl,
  type PodJupyterConnectionInfo,
} from './jupyterConnection.ts';
export type { KernelOutputEvent, MimeBundle } from './jupyterMessages.ts';
export {
  PodJupyterCodeExecutor,
  type JupyterCodeResult,
  type JupyterConnectionProvider,
  type JupyterExecuteOptions,
  type PodJupyterCodeExecutorOptions,
} from './podJupyterCodeExecutor.ts';
export {
  PodJupyterServer,
  defaultJupyterCommand,
  defaultJupyterImage,
  type JupyterServerAccess,
  type PodJupyterServerOptions,
} from './podJupyterServer.ts';
export { specHashAnnotation, specHashOf } from './specHash.ts';
export {
  GatewayKernelRecords,
  notebookKernelKey,
  maxNotebookKernelRecords,
  notebookKernelsAnnotation,
  type NotebookKernelRecord,
  type NotebookKernelRecords,
  type PodRecordApi,
} from './notebookKernels.ts';
export {
  PortForwarder,
  type PodLookup,
  type PortForwarderOptions,
  type PortForwardState,
} from './portForwarder.ts';
export {
  parseSettings,
  reconnectSettings,
  resourceRequirements,
  settingKeys,
  type PodRunnerSettings,
} from './settings.ts';
export {
  parseProfiles,
  profilePodSpec,
  type PodProfile,
  type ProfileBase,
  type ProfilePod,
  type ProfileVolume,
} from './profiles.ts';
export { listManagedPods, reapOrphanedPods, type ManagedPod } from './orphans.ts';
export {
  checkPermissions,
  executorPermissions,
  jupyterServerPermissions,
  type Permission,
} from './preflight.ts';
export { localToRemote, remoteToLocal, type PathMapping } from './pathMapping.ts';
export {
  defaultMaxFileBytes,
  type DownloadOptions,
  type DownloadResult,
  type LocalFileSystem,
  type SkippedPath,
  type SyncedFolder,
  type SyncOptions,
  type SyncProgress,
  type SyncResult,
} from './workspaceSync/index.ts';
export {
  cellAt,
  codeFromLine,
  hasCellMarkers,
  pythonCells,
  type PythonCell,
} from './pythonCells.ts';
export { mapCellTraceback, type CellOrigin } from './cellTraceback.ts';
