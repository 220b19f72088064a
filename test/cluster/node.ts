import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signedCertificate, type ClusterPki } from './pki.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import {
  execFileAsync,
  freePort,
  startProcess,
  waitUntil,
  type ManagedProcess,
} from './processes.ts';
import {
  deleteLink,
  isMountPoint,
  unmountNetworkNamespaceDir,
  killCgroupProcesses,
  killProcessesMentioning,
  listNetworkNamespaces,
  removeCgroups,
  removeNewNetworkNamespaces,
  restoreSysctls,
  saveSysctls,
  unmountUnder,
} from './hostState.ts';

const bridgeName = 'cni0';
const podSubnet = '10.88.0.0/24';
/** The bridge's own address, which is also the node IP. */
export const nodeIp = '10.88.0.1';
export const pauseImage = 'registry.k8s.io/pause:3.10';
const cniBinDir = '/usr/lib/cni';
const startTimeoutMs = 120_000;

export interface NodeOptions {
  binDir: string;
  clusterDir: string;
  pki: ClusterPki;
  server: string;
  nodeName: string;
  registryUrl: string;
  track: (process: ManagedProcess) => void;
  /** Host changes to undo on stop, run last to first. */
  onStop: (undo: () => Promise<void>) => void;
  log: (line: string) => void;
}

export async function startNode(options: NodeOptions): Promise<void> {
  const nodeDir = join(options.clusterDir, 'node');
  const containerdDir = join(nodeDir, 'containerd');
  const kubeletDir = join(nodeDir, 'kubelet');
  await mkdir(containerdDir, { recursive: true });
  await mkdir(kubeletDir, { recursive: true });
  const socket = join(containerdDir, 'containerd.sock');

  // Checked before any undo is registered, so a failed start never deletes a bridge it did not make.
  if (existsSync(`/sys/class/net/${bridgeName}`)) {
    throw new Error(`network device ${bridgeName} already exists; is another cluster running?`);
  }
  const sysctls = await saveSysctls();
  const namespacesBefore = listNetworkNamespaces();
  const namespaceDirWasMounted = isMountPoint('/run/netns') || isMountPoint('/var/run/netns');
  options.onStop(async () => {
    killProcessesMentioning(socket);
    killCgroupProcesses('kubepods');
    await removeNewNetworkNamespaces(namespacesBefore);
    await unmountNetworkNamespaceDir(namespaceDirWasMounted);
    await unmountUnder(nodeDir);
    await deleteLink(bridgeName);
    await removeCgroups('kubepods');
    await restoreSysctls(sysctls);
  });

  await createBridge();
  await writeCniConfig(nodeDir);
  await startContainerd(options, containerdDir, nodeDir, socket);
  await startKubelet(options, kubeletDir, socket);
}

/** The bridge plugin runs with isGateway false, so the bridge and its address are made here. */
async function createBridge(): Promise<void> {
  await execFileAsync('ip', ['link', 'add', bridgeName, 'type', 'bridge']);
  await execFileAsync('ip', ['addr', 'add', `${nodeIp}/24`, 'dev', bridgeName]);
  await execFileAsync('ip', ['link', 'set', bridgeName, 'up']);
}

async function writeCniConfig(nodeDir: string): Promise<void> {
  const confDir = join(nodeDir, 'cni', 'net.d');
  await mkdir(confDir, { recursive: true });
  const config = {
    cniVersion: '0.4.0',
    name: 'pod-runner',
    plugins: [
      {
        type: 'bridge',
        bridge: bridgeName,
        isGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: podSubnet, rangeStart: '10.88.0.10', gateway: nodeIp }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(nodeDir, 'cni', 'ipam'),
        },
      },
      { type: 'loopback' },
    ],
  };
  await writeFile(join(confDir, '10-pod-runner.conflist'), JSON.stringify(config, null, 2));
}

async function startContainerd(
  options: NodeOptions,
  containerdDir: string,
  nodeDir: string,
  socket: string,
): Promise<void> {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const mirror = (registry: string) =>
    `[${cri}.registry.mirrors."${registry}"]\n  endpoint = ["${options.registryUrl}"]`;
  const config = [
    'version = 2',
    `root = "${join(containerdDir, 'root')}"`,
    `state = "${join(containerdDir, 'state')}"`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${join(containerdDir, 'opt')}"`,
    `[${cri}]`,
    `  sandbox_image = "${pauseImage}"`,
    // The VM's own oom_score_adj is negative; without this, containers cannot be created.
    '  restrict_oom_score_adj = true',
    '  stream_server_address = "127.0.0.1"',
    `[${cri}.cni]`,
    `  bin_dir = "${cniBinDir}"`,
    `  conf_dir = "${join(nodeDir, 'cni', 'net.d')}"`,
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    mirror('docker.io'),
    mirror('registry.k8s.io'),
    mirror('quay.io'),
    '',
  ].join('\n');
  const configPath = join(containerdDir, 'config.toml');
  await writeFile(configPath, config);
  const containerd = startProcess(
    'containerd',
    'containerd',
    ['--config', configPath],
    join(options.clusterDir, 'containerd.log'),
  );
  options.track(containerd);
  await waitUntil(
    'containerd',
    () => Promise.resolve(existsSync(socket)),
    startTimeoutMs,
    containerd,
  );
  options.log('containerd ready');
}

async function startKubelet(
  options: NodeOptions,
  kubeletDir: string,
  socket: string,
): Promise<void> {
  const { pki, nodeName } = options;
  const kubeconfig = join(kubeletDir, 'kubelet.kubeconfig');
  await writeKubeconfig(kubeconfig, options.server, pki.caCert, [
    { context: 'kubelet', user: `system:node:${nodeName}`, token: pki.tokens.kubelet },
  ]);
  await signedCertificate(pki.dir, 'kubelet', `/CN=${nodeName}`, pki.caCert, pki.caKey, [
    `DNS:${nodeName}`,
    `IP:${nodeIp}`,
  ]);
  const port = await freePort();
  const healthzPort = await freePort();
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: nodeIp,
    port,
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    readOnlyPort: 0,
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    protectKernelDefaults: false,
    containerRuntimeEndpoint: `unix://${socket}`,
    tlsCertFile: join(pki.dir, 'kubelet.crt'),
    tlsPrivateKeyFile: join(pki.dir, 'kubelet.key'),
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: pki.caCert },
    },
    authorization: { mode: 'Webhook' },
    clusterDomain: 'cluster.local',
    resolvConf: '/etc/resolv.conf',
    // A test VM's disk is often fuller than the default thresholds allow.
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
  };
  const configPath = join(kubeletDir, 'config.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const kubelet = startProcess(
    'kubelet',
    join(options.binDir, 'kubelet'),
    [
      `--config=${configPath}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${join(kubeletDir, 'root')}`,
      `--hostname-override=${nodeName}`,
      `--node-ip=${nodeIp}`,
    ],
    join(options.clusterDir, 'kubelet.log'),
  );
  options.track(kubelet);
  await waitUntil(
    'kubelet',
    async () => {
      const response = await fetch(`http://127.0.0.1:${healthzPort}/healthz`);
      return response.ok;
    },
    startTimeoutMs,
    kubelet,
  );
  options.log(`kubelet ready (node ${nodeName}, ${nodeIp})`);
}
