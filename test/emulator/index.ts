import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump as dumpYaml } from 'js-yaml';
import { ApiServer } from './apiserver/apiServer.ts';
import { Authorizer } from './apiserver/authorization.ts';
import { systemNamespaces } from './apiserver/gracefulDeletion.ts';
import { createServingCertificates } from './apiserver/certificates.ts';
import { EventRecorder } from './kubelet/eventRecorder.ts';
import {
  PersistentVolumeController,
  standardStorageClass,
} from './controllers/persistentVolumes.ts';
import { RequestFailures, type FailureRule } from './apiserver/faults.ts';
import { ImageCatalog, type ImageCatalogOptions } from './kubelet/imageCatalog.ts';
import { Kubelet } from './kubelet/kubelet.ts';
import { ObjectStore } from './store/objectStore.ts';
import { ResourceApi } from './apiserver/resourceApi.ts';
import { resourceTypeOfKind } from './resources.ts';
import { assertSandboxSupport } from './kubelet/sandbox.ts';
import { streamProtocols } from './kubelet/streamingChannels.ts';
import { currentTestFile, recordInSuiteLedger } from '../support/suiteLedger.ts';

export const emulatorContext = 'pod-runner-emulator';
export const restrictedContext = 'pod-runner-emulator-restricted';
export const nodeName = 'pod-runner-emulator-node';
/** Every emulator's state directory starts with this (a sandbox's processes carry it too). */
export const emulatorDirectoryPrefix = join(tmpdir(), 'pod-runner-emulator-');
const managedBy = 'app.kubernetes.io/managed-by';

export interface EmulatorOptions {
  /** Port for the API server on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Where to write the kubeconfig; default: a file in the emulator's temporary directory. */
  kubeconfigPath?: string;
  images?: ImageCatalogOptions;
  /** First back-off for crash loops and image pulls (the kubelet's is 10 s). */
  backoffBaseMs?: number;
  /**
   * Exec/port-forward subprotocols to serve, e.g. `['v4.channel.k8s.io']` for a cluster older than
   * 1.30 that cannot half-close stdin. Default: v5 down to v1.
   */
  streamProtocols?: string[];
}

/** Faults a test can inject into the running emulator. */
export interface FaultInjection {
  /** The next `count` requests matching verb/resource fail with `status`. */
  failRequests(rule: FailureRule): void;
  clearRequestFailures(): void;
  /** Cuts (TCP reset) every open exec, port-forward, log and watch stream of a pod; returns how many. */
  dropConnections(namespace: string, pod: string): number;
  /** Kills the pod's containers: the pod goes Failed (restartPolicy Never) with this reason. */
  killPod(namespace: string, pod: string, reason?: 'OOMKilled' | 'Error'): void;
  /** Every pod created from now on waits this long before its sandbox starts. */
  delayPodStart(ms: number): void;
  /** Stops the API server (cutting all connections) and serves again after `downMs`, keeping all state. */
  restartApiServer(downMs?: number): Promise<void>;
  /**
   * An outage: the API server stops listening (new connections are refused) and cuts every open
   * one; the pods keep running. Resolves once it is down, with `restore()`, which serves again on
   * the same port with the same state, when the test chooses.
   */
  takeApiServerDown(): Promise<{ restore(): Promise<void> }>;
}

export interface KubeconfigDocument {
  apiVersion: 'v1';
  kind: 'Config';
  'current-context': string;
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { token: string } }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace: string } }[];
  preferences: Record<string, never>;
}

export interface ManagedObjects {
  pods: string[];
  secrets: string[];
  services: string[];
}

export interface RunningEmulator {
  url: string;
  /** The emulator's temporary directory (node state, pod volumes); removed by stop(). */
  stateDirectory: string;
  kubeconfigPath: string;
  kubeconfig: KubeconfigDocument;
  faults: FaultInjection;
  /** Counts of what is alive, for leak checks. */
  activePods(): number;
  /** Names of the pods, secrets and services Pod Runner created (by its managed-by label), in every namespace. */
  managedObjects(): ManagedObjects;
  stop(): Promise<void>;
}

/** Starts the Kubernetes API emulator: an HTTPS apiserver on 127.0.0.1 and a kubelet running sandboxed pods. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  assertSandboxSupport();
  const workDir = await mkdtemp(emulatorDirectoryPrefix);
  const store = new ObjectStore();
  const authorizer = new Authorizer();
  const failures = new RequestFailures();
  let startDelayMs = 0;
  for (const name of systemNamespaces) {
    store.create(resourceTypeOfKind('Namespace'), namespaceObject(name));
  }
  store.create(resourceTypeOfKind('Node'), nodeObject());
  store.create(resourceTypeOfKind('StorageClass'), standardStorageClass());
  const events = new EventRecorder(store);
  const volumeController = new PersistentVolumeController(
    store,
    events,
    join(workDir, 'hostpath_pv'),
  );
  volumeController.start();
  const kubelet = new Kubelet({
    store,
    events,
    images: new ImageCatalog(options.images),
    stateDir: join(workDir, 'node'),
    helpersDir: join(__dirname, 'kubelet', 'helpers'),
    nodeName,
    hostIP: '172.18.0.2',
    backoffBaseMs: options.backoffBaseMs ?? 10_000,
    startDelayMs: () => startDelayMs,
  });
  const certificates = await createServingCertificates();
  await kubelet.start();
  const server = new ApiServer({
    store,
    resources: new ResourceApi(store, authorizer),
    kubelet,
    authorizer,
    failures,
    certificates,
    streamProtocols: options.streamProtocols ?? streamProtocols,
  });
  await server.listen(options.port ?? 0);
  const kubeconfig = kubeconfigDocument(server.url, certificates.caPem, authorizer);
  const kubeconfigPath = options.kubeconfigPath ?? join(workDir, 'kubeconfig');
  await writeFile(kubeconfigPath, dumpYaml(kubeconfig), { mode: 0o600 });
  let stopped = false;
  const takeApiServerDown = async () => {
    const port = Number(new URL(server.url).port);
    await server.close();
    return { restore: () => server.listen(port) };
  };
  const managedObjects = (): ManagedObjects => {
    const named = (kind: string) =>
      store
        .list(resourceTypeOfKind(kind))
        .filter((item) => item.metadata.labels?.[managedBy] === 'pod-runner')
        .map((item) => `${item.metadata.namespace ?? ''}/${item.metadata.name ?? ''}`);
    return { pods: named('Pod'), secrets: named('Secret'), services: named('Service') };
  };
  return {
    url: server.url,
    stateDirectory: workDir,
    kubeconfigPath,
    kubeconfig,
    activePods: () => kubelet.activePods,
    managedObjects,
    faults: {
      failRequests: (rule) => failures.add(rule),
      clearRequestFailures: () => failures.clear(),
      dropConnections: (namespace, pod) => server.dropStreams(namespace, pod),
      killPod: (namespace, pod, reason = 'OOMKilled') => kubelet.killPod(namespace, pod, reason),
      delayPodStart: (ms) => {
        startDelayMs = ms;
      },
      restartApiServer: async (downMs = 200) => {
        const outage = await takeApiServerDown();
        await new Promise((resolve) => setTimeout(resolve, downMs));
        await outage.restore();
      },
      takeApiServerDown,
    },
    async stop() {
      if (stopped) {
        return;
      }
      stopped = true;
      recordInSuiteLedger('emulators', {
        file: currentTestFile(),
        url: server.url,
        ...managedObjects(),
      });
      await server.close();
      await volumeController.stop();
      await kubelet.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

function namespaceObject(name: string) {
  return {
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

function nodeObject() {
  return {
    metadata: {
      name: nodeName,
      labels: {
        'kubernetes.io/hostname': nodeName,
        'kubernetes.io/os': 'linux',
        'node-role.kubernetes.io/control-plane': '',
      },
    },
    spec: {},
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
        },
      ],
      addresses: [
        { type: 'InternalIP', address: '172.18.0.2' },
        { type: 'Hostname', address: nodeName },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.32.4',
        containerRuntimeVersion: 'pod-runner-emulator://1',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

function kubeconfigDocument(
  url: string,
  caPem: string,
  authorizer: Authorizer,
): KubeconfigDocument {
  const ca = Buffer.from(caPem).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': emulatorContext,
    clusters: [
      { name: emulatorContext, cluster: { server: url, 'certificate-authority-data': ca } },
    ],
    users: [
      { name: `${emulatorContext}-admin`, user: { token: authorizer.admin.token } },
      { name: `${emulatorContext}-restricted`, user: { token: authorizer.restricted.token } },
    ],
    contexts: [
      {
        name: emulatorContext,
        context: {
          cluster: emulatorContext,
          user: `${emulatorContext}-admin`,
          namespace: 'default',
        },
      },
      {
        name: restrictedContext,
        context: {
          cluster: emulatorContext,
          user: `${emulatorContext}-restricted`,
          namespace: 'default',
        },
      },
    ],
    preferences: {},
  };
}
