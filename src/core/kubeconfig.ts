import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubeconfigError } from './errors.ts';

export interface ClusterTarget {
  kubeConfig: KubeConfig;
  context: string;
  namespace: string;
}

export interface ClusterTargetOptions {
  /** A kubeconfig path or object; default: KUBECONFIG (paths merged), ~/.kube/config, in-cluster. */
  kubeconfig?: string | KubeConfig;
  /** A context of that kubeconfig; default: its current context. Chosen in memory only. */
  context?: string;
  /** Default: the context's namespace, else the in-cluster namespace, else "default". */
  namespace?: string;
}

const inClusterNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * Loads the kubeconfig and selects the context and namespace. The user's kubeconfig file is read,
 * never written: the context is switched on the in-memory copy.
 */
export function loadClusterTarget(options: ClusterTargetOptions = {}): ClusterTarget {
  let kubeConfig: KubeConfig;
  if (options.kubeconfig instanceof KubeConfig) {
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(options.kubeconfig.exportConfig());
  } else {
    kubeConfig = new KubeConfig();
    try {
      if (options.kubeconfig) {
        if (!existsSync(options.kubeconfig)) {
          throw new KubeconfigError(`kubeconfig file not found: ${options.kubeconfig}`);
        }
        kubeConfig.loadFromFile(options.kubeconfig);
      } else {
        kubeConfig.loadFromDefault();
      }
    } catch (error) {
      if (error instanceof KubeconfigError) {
        throw error;
      }
      const where =
        options.kubeconfig ??
        (process.env.KUBECONFIG ? `KUBECONFIG (${process.env.KUBECONFIG})` : '~/.kube/config');
      throw loadError(where, error);
    }
  }
  const contexts = kubeConfig.getContexts().map((c) => c.name);
  const context = options.context ?? kubeConfig.getCurrentContext();
  if (options.context !== undefined) {
    if (!contexts.includes(options.context)) {
      throw new KubeconfigError(
        `context "${options.context}" is not in the kubeconfig (available: ${contexts.join(', ') || 'none'})`,
      );
    }
    kubeConfig.setCurrentContext(options.context);
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new KubeconfigError(
      context
        ? `context "${context}" names no cluster the kubeconfig defines`
        : 'the kubeconfig has no current context; choose one with the context option',
    );
  }
  checkExecPlugin(kubeConfig);
  const namespace =
    options.namespace ??
    kubeConfig.getContextObject(context)?.namespace ??
    inClusterNamespace() ??
    'default';
  return { kubeConfig, context, namespace };
}

/**
 * A YAML parser's message quotes the lines around the error, which may hold a token or a key:
 * only its reason and position are kept, and it is not attached as the cause (loggers print that).
 */
function loadError(where: string, error: unknown): KubeconfigError {
  const yaml = error as {
    name?: unknown;
    reason?: unknown;
    mark?: { line?: unknown; column?: unknown };
  };
  if (
    yaml.name === 'YAMLException' &&
    typeof yaml.mark?.line === 'number' &&
    typeof yaml.mark.column === 'number'
  ) {
    const reason = typeof yaml.reason === 'string' ? yaml.reason : 'invalid YAML';
    return new KubeconfigError(
      `cannot load kubeconfig from ${where}: invalid YAML at line ${yaml.mark.line + 1}, column ${yaml.mark.column + 1}: ${reason}`,
    );
  }
  return new KubeconfigError(`cannot load kubeconfig from ${where}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * A user that authenticates through an exec plugin (gke-gcloud-auth-plugin, aws, kubelogin…)
 * needs that program: say which one is missing, with the kubeconfig's install hint, before any
 * request fails with a bare ENOENT.
 */
function checkExecPlugin(kubeConfig: KubeConfig): void {
  const user = kubeConfig.getCurrentUser();
  const exec = (user as { exec?: { command?: unknown; installHint?: unknown } } | null)?.exec;
  if (!user || typeof exec?.command !== 'string' || commandExists(exec.command)) {
    return;
  }
  const hint = typeof exec.installHint === 'string' ? `\n${exec.installHint.trim()}` : '';
  throw new KubeconfigError(
    `the kubeconfig user "${user.name}" authenticates with the exec plugin "${exec.command}", which is not installed or not on PATH${hint}`,
  );
}

function commandExists(command: string): boolean {
  if (command.includes('/')) {
    return existsSync(command);
  }
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .some((directory) => existsSync(join(directory, command)));
}

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(inClusterNamespaceFile, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The names of the cluster's namespaces (needs `list` on namespaces). */
export async function listNamespaceNames(target: ClusterTarget): Promise<string[]> {
  const list = await target.kubeConfig.makeApiClient(CoreV1Api).listNamespace();
  return list.items.map((namespace) => namespace.metadata?.name ?? '').filter(Boolean);
}
