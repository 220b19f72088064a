import { randomUUID } from 'node:crypto';
import { ExecutorStateError, SpecError } from './errors.ts';
import { executorContainerName } from './executorPod.ts';
import { gatewaySupervisorScript, idleCheckSeconds, idleTimeoutSeconds } from './idleStop.ts';
import { instanceLabel, jupyterServerLabel, managedByLabel, managedByValue } from './podLabels.ts';
import { stampSpecHash } from './specHash.ts';
import { loadSpec, type JsonObject, type SpecInput } from './specLoader.ts';

export const defaultJupyterImage = 'quay.io/jupyter/docker-stacks-foundation';
const installGateway =
  'mamba install --yes jupyter_kernel_gateway ipykernel && mamba clean --all -f -y && fix-permissions "${CONDA_DIR}" && fix-permissions "/home/${NB_USER}"';
const gatewayFlags = '--JupyterApp.answer_yes=true --JupyterWebsocketPersonality.list_kernels=true';

/**
 * Starts the kernel gateway (`$0` of the command) with Nagle's algorithm off on its kernel
 * websockets. The gateway writes each kernel message as a frame of its own; with Nagle, every frame
 * after a cell's first `busy` waits for the client's delayed ACK (40 ms on Linux), which was ~42 of
 * a `1+1` cell's ~48 ms. The connection class is the gateway's own setting for this (3.0 on);
 * older gateways start as they are.
 */
export const gatewayLauncherScript = `import sys

from kernel_gateway import launch_instance

try:
    from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
except ImportError:
    ZMQChannelsWebsocketConnection = None

if ZMQChannelsWebsocketConnection is not None:

    class NoDelayConnection(ZMQChannelsWebsocketConnection):
        def connect(self):
            self.websocket_handler.set_nodelay(True)
            return super().connect()

    sys.argv.append("--KernelGatewayApp.kernel_websocket_connection_class=__main__.NoDelayConnection")
launch_instance()
`;

/**
 * The seed's command, with `exec` so the gateway is PID 1 and stops promptly on SIGTERM, started
 * by the launcher above. The bind address comes from KG_IP alone: a --KernelGatewayApp.ip flag
 * would override it.
 */
export const defaultJupyterCommand = [
  '/bin/bash',
  '-o',
  'pipefail',
  '-c',
  `${installGateway}; exec python -c "$0" ${gatewayFlags}`,
  gatewayLauncherScript,
];

/**
 * The default command with an idle timeout (seconds, 0: none): the gateway culls kernels idle that
 * long that no client is connected to (a busy one never: the server may miss a quiet cell's busy
 * status, a connection still guards it) and runs under a supervisor that stops it, and so the pod,
 * once no kernel ran anything for that long (idleStop.ts).
 */
export function jupyterGatewayCommand(idleSeconds: number): string[] {
  if (idleSeconds === 0) {
    return defaultJupyterCommand;
  }
  const culling =
    '--MappingKernelManager.cull_idle_timeout="$1" --MappingKernelManager.cull_interval="$2"';
  return [
    '/bin/bash',
    '-o',
    'pipefail',
    '-c',
    `${installGateway}; exec python -c "$0" "$1" "$2" python -c "$3" ${gatewayFlags} ${culling}`,
    gatewaySupervisorScript,
    String(idleSeconds),
    String(idleCheckSeconds(idleSeconds)),
    gatewayLauncherScript,
  ];
}

/**
 * How clients reach the gateway. `portForward`: through the Kubernetes API only, so the gateway
 * listens on the pod's loopback and no Service is created. `inCluster`: from other pods, through
 * a ClusterIP Service, so it listens on every address of the pod.
 */
export type JupyterServerAccess = 'portForward' | 'inCluster';

/** What shapes a gateway's Pod, Secret and Service. */
export interface JupyterServerSpecOptions {
  /** Default `portForward` (what connect() and the extension use). */
  access?: JupyterServerAccess;
  /** Default quay.io/jupyter/docker-stacks-foundation (the README recommends a prebuilt gateway image). */
  image?: string;
  /** Default: install the kernel gateway, then start it. `null`: the image's own command. */
  command?: string[] | null;
  /** With the default command: the gateway stops after this long with no cell run (0: never); default 60. */
  idleTimeoutMinutes?: number;
  args?: string[];
  workspacePath?: string;
  volume?: SpecInput;
  podSpec?: SpecInput;
  /** Only with `access: 'inCluster'`. */
  serviceSpec?: SpecInput;
  secretSpec?: SpecInput;
  /** Extra labels for the pod, secret and service (Pod Runner's own labels take precedence). */
  labels?: Record<string, string>;
}

/** The gateway's pod name, port and token ("" for none). */
export interface JupyterServerIdentity {
  podName: string;
  port: number;
  token: string;
}

export interface JupyterServerManifests {
  pod: JsonObject;
  secret: JsonObject | undefined;
  /** None when the gateway is reached by port-forward. */
  service: JsonObject | undefined;
}

const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The Pod, Secret and Service of a gateway in `namespace` (nothing is sent), and the token the
 * gateway will require: a secretSpec's KG_AUTH_TOKEN replaces the one given.
 */
export function buildJupyterServerManifests(
  options: JupyterServerSpecOptions,
  server: JupyterServerIdentity,
  namespace: string,
): { manifests: JupyterServerManifests; token: string } {
  let token = server.token;
  const labels = {
    ...options.labels,
    [jupyterServerLabel]: server.podName,
    [managedByLabel]: managedByValue,
    [instanceLabel]: randomUUID(),
  };
  const metadata = (name: string) => ({ name, namespace, labels });
  let secret: JsonObject | undefined;
  if (options.secretSpec !== undefined) {
    const loaded = loadSpec(options.secretSpec, 'Secret', 'secretSpec');
    const data = (loaded.spec.data ?? {}) as Record<string, string>;
    const stringData = (loaded.spec.stringData ?? {}) as Record<string, string>;
    const specToken =
      stringData.KG_AUTH_TOKEN ??
      (data.KG_AUTH_TOKEN ? Buffer.from(data.KG_AUTH_TOKEN, 'base64').toString('utf8') : undefined);
    if (specToken === undefined) {
      throw new SpecError(
        `secretSpec: ${loaded.source} has no data or stringData KG_AUTH_TOKEN`,
        loaded.source,
        'data.KG_AUTH_TOKEN',
      );
    }
    token = specToken;
    const specMetadata = isObject(loaded.spec.metadata) ? loaded.spec.metadata : {};
    secret = {
      ...loaded.spec,
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        ...specMetadata,
        name: specMetadata.name ?? `${server.podName}-secret`,
        namespace,
        labels: { ...(isObject(specMetadata.labels) ? specMetadata.labels : {}), ...labels },
      },
    };
  } else if (token) {
    secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(`${server.podName}-secret`),
      stringData: { KG_AUTH_TOKEN: token },
    };
  }
  const secretName = secret ? String((secret.metadata as JsonObject).name) : undefined;
  const pod = buildPod(options, server, namespace, labels, secretName);
  const service =
    options.access === 'inCluster' ? buildService(options, server, namespace, labels) : undefined;
  return { manifests: { pod, secret, service }, token };
}

/**
 * When the gateway answers. The kubelet dials a TCP probe at the pod's IP from outside the pod, so
 * a gateway bound to the pod's loopback (port-forward access) is checked from inside, where the
 * port-forward itself connects; one listening on every address is dialled as usual.
 */
function gatewayProbe(access: JupyterServerAccess, port: number): JsonObject {
  if (access === 'inCluster') {
    return { tcpSocket: { port } };
  }
  const connect = `import socket; socket.create_connection(('127.0.0.1', ${port}), 1).close()`;
  return { exec: { command: ['python', '-c', connect] }, timeoutSeconds: 2 };
}

function buildPod(
  options: JupyterServerSpecOptions,
  server: JupyterServerIdentity,
  namespace: string,
  labels: Record<string, string>,
  secretName: string | undefined,
): JsonObject {
  const workspace = options.workspacePath ?? '/workspace';
  const volume =
    options.volume === undefined ? undefined : loadSpec(options.volume, 'Volume', 'volume').spec;
  const env = [
    { name: 'KG_PORT', value: String(server.port) },
    { name: 'KG_IP', value: options.access === 'inCluster' ? '0.0.0.0' : '127.0.0.1' },
    { name: 'KG_LIST_KERNELS', value: 'True' },
  ];
  const fill = (container: JsonObject): JsonObject => {
    const filled: JsonObject = { ...container };
    filled.image ??= options.image ?? defaultJupyterImage;
    if (filled.command === undefined && filled.args === undefined) {
      // A spec's gateway container without a command would run the image's own, not the gateway.
      const { command, args } = defaultContainer;
      Object.assign(filled, command ? { command } : {}, args ? { args } : {});
    }
    const ports = Array.isArray(filled.ports) ? [...(filled.ports as JsonObject[])] : [];
    if (!ports.some((p) => p.name === 'jupyter')) {
      ports.push({ name: 'jupyter', containerPort: server.port });
    }
    filled.ports = ports;
    const existingEnv = Array.isArray(filled.env) ? [...(filled.env as JsonObject[])] : [];
    for (const variable of env) {
      if (!existingEnv.some((e) => e.name === variable.name)) {
        existingEnv.push(variable);
      }
    }
    filled.env = existingEnv;
    if (secretName) {
      // Always the Secret actually created (the seed's spec may name the default one); the
      // user's own Secrets stay.
      const ownNames = new Set([secretName, `${server.podName}-secret`]);
      const others = (Array.isArray(filled.envFrom) ? (filled.envFrom as JsonObject[]) : []).filter(
        (e) => !(isObject(e.secretRef) && ownNames.has(String(e.secretRef.name))),
      );
      filled.envFrom = [...others, { secretRef: { name: secretName } }];
    }
    filled.readinessProbe ??= {
      ...gatewayProbe(options.access ?? 'portForward', server.port),
      periodSeconds: 1,
      failureThreshold: 3,
    };
    if (volume) {
      const mounts = Array.isArray(filled.volumeMounts)
        ? [...(filled.volumeMounts as JsonObject[])]
        : [];
      if (!mounts.some((m) => m.name === volume.name)) {
        mounts.push({ name: volume.name, mountPath: workspace });
      }
      filled.volumeMounts = mounts;
    }
    return filled;
  };
  const defaultContainer: JsonObject = {
    name: executorContainerName,
    image: options.image ?? defaultJupyterImage,
    ...(options.command === null
      ? {}
      : {
          command:
            options.command ??
            jupyterGatewayCommand(
              idleTimeoutSeconds(options.idleTimeoutMinutes, 'idleTimeoutMinutes'),
            ),
        }),
    ...(options.args ? { args: options.args } : {}),
    workingDir: workspace,
  };
  let pod: JsonObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: server.podName, namespace, labels },
    spec: { containers: [defaultContainer] },
  };
  if (options.podSpec !== undefined) {
    const loaded = loadSpec(options.podSpec, 'Pod', 'podSpec');
    const specMetadata = isObject(loaded.spec.metadata) ? loaded.spec.metadata : {};
    const spec = isObject(loaded.spec.spec) ? { ...loaded.spec.spec } : {};
    const containers = Array.isArray(spec.containers) ? (spec.containers as JsonObject[]) : [];
    if (!containers.some((c) => isObject(c) && c.name === executorContainerName)) {
      containers.push(defaultContainer);
    }
    pod = {
      ...loaded.spec,
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...specMetadata,
        name: specMetadata.name ?? server.podName,
        namespace,
        labels: { ...(isObject(specMetadata.labels) ? specMetadata.labels : {}), ...labels },
      },
      spec: { ...spec, containers },
    };
  }
  const spec = pod.spec as JsonObject;
  spec.automountServiceAccountToken ??= false;
  spec.terminationGracePeriodSeconds ??= 10;
  // A crashed gateway restarts; one that stopped when idle (exit 0) ends the pod Succeeded.
  spec.restartPolicy ??= 'OnFailure';
  spec.containers = (spec.containers as JsonObject[]).map((c) =>
    c.name === executorContainerName ? fill(c) : c,
  );
  if (volume) {
    const volumes = Array.isArray(spec.volumes) ? [...(spec.volumes as JsonObject[])] : [];
    if (!volumes.some((v) => v.name === volume.name)) {
      volumes.push(volume);
    }
    spec.volumes = volumes;
  }
  stampSpecHash(pod);
  return pod;
}

function buildService(
  options: JupyterServerSpecOptions,
  server: JupyterServerIdentity,
  namespace: string,
  labels: Record<string, string>,
): JsonObject {
  const port = { name: 'jupyter', protocol: 'TCP', port: server.port, targetPort: 'jupyter' };
  const selector = { [jupyterServerLabel]: server.podName };
  if (options.serviceSpec === undefined) {
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: server.podName, namespace, labels },
      spec: { type: 'ClusterIP', selector, ports: [port] },
    };
  }
  const loaded = loadSpec(options.serviceSpec, 'Service', 'serviceSpec');
  const specMetadata = isObject(loaded.spec.metadata) ? loaded.spec.metadata : {};
  const spec = isObject(loaded.spec.spec) ? { ...loaded.spec.spec } : {};
  const ports = Array.isArray(spec.ports) ? [...(spec.ports as JsonObject[])] : [];
  if (!ports.some((p) => p.name === 'jupyter')) {
    ports.push(port);
  }
  return {
    ...loaded.spec,
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      ...specMetadata,
      name: specMetadata.name ?? server.podName,
      namespace,
      labels: { ...(isObject(specMetadata.labels) ? specMetadata.labels : {}), ...labels },
    },
    spec: {
      type: 'ClusterIP',
      ...spec,
      selector: { ...(isObject(spec.selector) ? spec.selector : {}), ...selector },
      ports,
    },
  };
}

/** The token of an adopted Secret: the gateway in the adopted pod requires that one. */
export function adoptedToken(secret: { data?: Record<string, string> }, namespace: string): string {
  const encoded = secret.data?.KG_AUTH_TOKEN;
  if (encoded === undefined) {
    throw new ExecutorStateError(
      `the existing gateway Secret in namespace ${namespace} has no KG_AUTH_TOKEN`,
    );
  }
  return Buffer.from(encoded, 'base64').toString('utf8');
}
