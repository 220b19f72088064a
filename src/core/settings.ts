import { OptionError } from './errors.ts';
import { defaultIdleTimeoutMinutes, idleTimeoutSeconds } from './idleStop.ts';
import { parseProfiles, type PodProfile } from './profiles.ts';

/** The extension's settings, validated; the single typed model every part of the extension reads. */
export interface PodRunnerSettings {
  kubeconfig: string | undefined;
  context: string | undefined;
  namespace: string | undefined;
  image: string;
  podSpec: string | Record<string, unknown> | undefined;
  volume: string | Record<string, unknown> | undefined;
  workspacePath: string;
  timeout: number;
  startupTimeout: number;
  resources: { cpu?: string; memory?: string; gpu?: number };
  labels: Record<string, string>;
  jupyterImage: string;
  jupyterCommand: string[] | undefined;
  jupyterPort: number;
  kernelName: string;
  /** What closing the window does to its pods; `keep` leaves them for the next window to reuse. */
  cleanupPolicy: 'deleteOnClose' | 'keep';
  /** Minutes with no run, cell or shell after which a pod stops by itself; 0: never. */
  idleTimeoutMinutes: number;
  /** Blocks run as forks of one long-lived program in the executor pod, over one open exec. */
  warmRuntime: boolean;
  /** Mirroring the open folders into the pods before each run. */
  sync: { enabled: boolean; exclude: string[]; maxFileBytes: number };
  /** Run File's working directory: the synced folder's root, or the file's own folder. */
  runFile: { cwd: 'root' | 'file' };
  /**
   * `# %%` cells of Python files: code lenses (Run Cell, Run Above, Run Below) and Shift+Enter
   * running the current cell in the Interactive Window.
   */
  interactiveWindow: { codeLenses: boolean; shiftEnter: boolean };
  /** The language-model tool for agents: whether each call asks the user first. */
  agentTool: { confirm: boolean };
  /** Named pod set-ups; the window uses one of them, or none (the settings alone). */
  profiles: PodProfile[];
}

/**
 * Settings that change which cluster or pod is used: changing them means reconnecting. (A change
 * of `profiles` does only when it changes the window's active profile.)
 */
export const reconnectSettings = [
  'kubeconfig',
  'context',
  'namespace',
  'image',
  'podSpec',
  'volume',
  'workspacePath',
  'resources',
  'labels',
  'jupyterImage',
  'jupyterCommand',
  'jupyterPort',
] as const;

/** The keys of `settingKeys`: a setting of a group (`sync.exclude`) fills a field of its object. */
type SettingKey =
  | Exclude<keyof PodRunnerSettings, 'sync' | 'runFile' | 'interactiveWindow' | 'agentTool'>
  | 'autoRemove'
  | 'sync.enabled'
  | 'sync.exclude'
  | 'sync.maxFileSizeMB'
  | 'runFile.cwd'
  | 'interactiveWindow.codeLenses'
  | 'interactiveWindow.shiftEnter'
  | 'agentTool.confirm';

export const settingKeys = [
  'kubeconfig',
  'context',
  'namespace',
  'image',
  'podSpec',
  'volume',
  'workspacePath',
  'timeout',
  'startupTimeout',
  'autoRemove',
  'resources',
  'labels',
  'jupyterImage',
  'jupyterCommand',
  'jupyterPort',
  'kernelName',
  'cleanupPolicy',
  'idleTimeoutMinutes',
  'warmRuntime',
  'sync.enabled',
  'sync.exclude',
  'sync.maxFileSizeMB',
  'runFile.cwd',
  'interactiveWindow.codeLenses',
  'interactiveWindow.shiftEnter',
  'agentTool.confirm',
  'profiles',
] as const satisfies readonly SettingKey[];

type Raw = Record<string, unknown>;

const optionalText = (raw: Raw, key: string): string | undefined => {
  const value = raw[key];
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new OptionError(`podRunner.${key}`, `expected a string, got ${typeof value}`);
  }
  return value.trim() || undefined;
};

const text = (raw: Raw, key: string, fallback: string) => optionalText(raw, key) ?? fallback;

const integer = (raw: Raw, key: string, fallback: number, min: number, max: number): number => {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(
      `podRunner.${key}`,
      `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
};

const specOrPath = (raw: Raw, key: string): string | Record<string, unknown> | undefined => {
  const value = raw[key];
  if (
    value === undefined ||
    value === null ||
    value === '' ||
    (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)
  ) {
    return undefined;
  }
  if (typeof value === 'string' || (typeof value === 'object' && !Array.isArray(value))) {
    return value as string | Record<string, unknown>;
  }
  throw new OptionError(`podRunner.${key}`, 'expected an object or a file path');
};

const megabyte = 1024 * 1024;

const flag = (raw: Raw, key: string, fallback: boolean): boolean => {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'boolean') {
    throw new OptionError(
      `podRunner.${key}`,
      `expected true or false, got ${JSON.stringify(value)}`,
    );
  }
  return value;
};

const syncSettings = (raw: Raw): PodRunnerSettings['sync'] => {
  const exclude = raw['sync.exclude'] ?? [];
  if (!Array.isArray(exclude) || exclude.some((glob) => typeof glob !== 'string')) {
    throw new OptionError('podRunner.sync.exclude', 'expected a list of glob strings');
  }
  const enabled = flag(raw, 'sync.enabled', true);
  const maxFileSizeMB = raw['sync.maxFileSizeMB'] ?? 50;
  if (typeof maxFileSizeMB !== 'number' || !(maxFileSizeMB > 0) || maxFileSizeMB > 1_048_576) {
    throw new OptionError(
      'podRunner.sync.maxFileSizeMB',
      `expected a number of megabytes above 0 and up to 1048576, got ${JSON.stringify(maxFileSizeMB)}`,
    );
  }
  return {
    enabled,
    exclude: (exclude as string[]).filter((glob) => glob.trim() !== ''),
    maxFileBytes: Math.round(maxFileSizeMB * megabyte),
  };
};

const runFileCwd = (raw: Raw): 'root' | 'file' => {
  const cwd = raw['runFile.cwd'] ?? 'root';
  if (cwd !== 'root' && cwd !== 'file') {
    throw new OptionError(
      'podRunner.runFile.cwd',
      `expected "root" or "file", got ${JSON.stringify(cwd)}`,
    );
  }
  return cwd;
};

/** Validates raw settings (as VS Code returns them) into the typed model, naming any bad key. */
export function parseSettings(raw: Raw): PodRunnerSettings {
  const resources = (raw.resources ?? {}) as Raw;
  if (typeof resources !== 'object' || Array.isArray(resources)) {
    throw new OptionError('podRunner.resources', 'expected an object with cpu, memory and gpu');
  }
  const labels = (raw.labels ?? {}) as Raw;
  if (
    typeof labels !== 'object' ||
    Array.isArray(labels) ||
    Object.values(labels).some((v) => typeof v !== 'string')
  ) {
    throw new OptionError('podRunner.labels', 'expected an object of string values');
  }
  const command = raw.jupyterCommand;
  if (
    command !== undefined &&
    command !== null &&
    (!Array.isArray(command) || command.some((part) => typeof part !== 'string'))
  ) {
    throw new OptionError('podRunner.jupyterCommand', 'expected a list of strings');
  }
  // The deprecated `autoRemove: false` said "keep" before cleanupPolicy did; it still does
  // unless cleanupPolicy is given.
  const cleanupPolicy = raw.cleanupPolicy ?? (raw.autoRemove === false ? 'keep' : 'deleteOnClose');
  if (cleanupPolicy !== 'deleteOnClose' && cleanupPolicy !== 'keep') {
    throw new OptionError(
      'podRunner.cleanupPolicy',
      `expected "deleteOnClose" or "keep", got ${JSON.stringify(cleanupPolicy)}`,
    );
  }
  // Fractions of a minute are allowed (tests use seconds); the same check as the executors'.
  const idleTimeoutMinutes = (raw.idleTimeoutMinutes ?? defaultIdleTimeoutMinutes) as number;
  idleTimeoutSeconds(idleTimeoutMinutes, 'podRunner.idleTimeoutMinutes');
  const workspacePath = text(raw, 'workspacePath', '/workspace');
  if (!workspacePath.startsWith('/')) {
    throw new OptionError(
      'podRunner.workspacePath',
      `expected an absolute path in the pod, got "${workspacePath}"`,
    );
  }
  return {
    kubeconfig: optionalText(raw, 'kubeconfig'),
    context: optionalText(raw, 'context'),
    namespace: optionalText(raw, 'namespace'),
    image: text(raw, 'image', 'python:3-slim'),
    podSpec: specOrPath(raw, 'podSpec'),
    volume: specOrPath(raw, 'volume'),
    workspacePath,
    timeout: integer(raw, 'timeout', 60, 1, 86_400),
    startupTimeout: integer(raw, 'startupTimeout', 300, 1, 3_600),
    resources: {
      ...(typeof resources.cpu === 'string' && resources.cpu ? { cpu: resources.cpu } : {}),
      ...(typeof resources.memory === 'string' && resources.memory
        ? { memory: resources.memory }
        : {}),
      ...(typeof resources.gpu === 'number' && resources.gpu > 0 ? { gpu: resources.gpu } : {}),
    },
    labels: labels as Record<string, string>,
    jupyterImage: text(raw, 'jupyterImage', 'quay.io/jupyter/docker-stacks-foundation'),
    jupyterCommand:
      Array.isArray(command) && command.length > 0 ? (command as string[]) : undefined,
    jupyterPort: integer(raw, 'jupyterPort', 8888, 1, 65_535),
    kernelName: text(raw, 'kernelName', 'python3'),
    cleanupPolicy,
    idleTimeoutMinutes,
    warmRuntime: flag(raw, 'warmRuntime', true),
    sync: syncSettings(raw),
    runFile: { cwd: runFileCwd(raw) },
    interactiveWindow: {
      codeLenses: flag(raw, 'interactiveWindow.codeLenses', true),
      shiftEnter: flag(raw, 'interactiveWindow.shiftEnter', false),
    },
    agentTool: { confirm: flag(raw, 'agentTool.confirm', true) },
    profiles: parseProfiles(raw.profiles),
  };
}

/** The container `resources` block for the settings' limits, or undefined when none is set. */
export function resourceRequirements(
  resources: PodRunnerSettings['resources'],
): Record<string, unknown> | undefined {
  const limits: Record<string, string | number> = {};
  if (resources.cpu) {
    limits.cpu = resources.cpu;
  }
  if (resources.memory) {
    limits.memory = resources.memory;
  }
  if (resources.gpu) {
    limits['nvidia.com/gpu'] = resources.gpu;
  }
  return Object.keys(limits).length ? { limits } : undefined;
}
