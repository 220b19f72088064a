import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startProcess, waitUntil, type ManagedProcess } from './processes.ts';
import { restrictedUserName, type ClusterPki } from './pki.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { restrictedUserResources } from '../emulator/apiserver/authorization.ts';
import { standardStorageClass } from '../emulator/controllers/persistentVolumes.ts';

export const serviceCidr = '10.0.0.0/24';
export const serviceIp = '10.0.0.1';
export const clusterCidr = '10.88.0.0/16';

const startTimeoutMs = 90_000;

export interface ControlPlaneOptions {
  binDir: string;
  clusterDir: string;
  pki: ClusterPki;
  /** Each started process is handed over at once, so a later failure still stops it. */
  track: (process: ManagedProcess) => void;
  log: (line: string) => void;
}

export async function startEtcd(options: ControlPlaneOptions): Promise<string> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = startProcess(
    'etcd',
    'etcd',
    [
      ...['--name', 'pod-runner', '--data-dir', join(options.clusterDir, 'etcd')],
      ...['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
      ...['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
      ...['--initial-cluster', `pod-runner=${peerUrl}`],
    ],
    join(options.clusterDir, 'etcd.log'),
  );
  options.track(etcd);
  await waitUntil(
    'etcd',
    async () => (await getText(`${clientUrl}/health`)).includes('true'),
    startTimeoutMs,
    etcd,
  );
  options.log(`etcd ready at ${clientUrl}`);
  return clientUrl;
}

/** Starts kube-apiserver and returns its https URL once /readyz answers ok. */
export async function startApiserver(
  options: ControlPlaneOptions,
  etcdUrl: string,
): Promise<string> {
  const { pki } = options;
  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  const apiserver = startProcess(
    'kube-apiserver',
    join(options.binDir, 'kube-apiserver'),
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      // Endpoints may not hold a loopback address, so the kubernetes service gets none.
      '--endpoint-reconciler-type=none',
      `--service-cluster-ip-range=${serviceCidr}`,
      '--authorization-mode=Node,RBAC',
      `--token-auth-file=${pki.tokenFile}`,
      `--client-ca-file=${pki.caCert}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--kubelet-client-certificate=${pki.kubeletClientCert}`,
      `--kubelet-client-key=${pki.kubeletClientKey}`,
      // The node's name does not resolve on this host; its address does.
      '--kubelet-preferred-address-types=InternalIP',
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--allow-privileged=true',
    ],
    join(options.clusterDir, 'kube-apiserver.log'),
  );
  options.track(apiserver);
  const admin = pki.tokens.admin;
  await waitUntil(
    'kube-apiserver',
    async () => (await getText(`${server}/readyz`, { ca: pki.caCert, token: admin })) === 'ok',
    startTimeoutMs,
    apiserver,
  );
  options.log(`kube-apiserver ready at ${server}`);
  return server;
}

/**
 * The restricted user may do what the emulator's may (test/emulator/apiserver/authorization.ts):
 * pods and their logs, status and port-forward, services, config maps, events and namespaces, but
 * neither exec into pods nor touch secrets; so the same RBAC tests hold on both.
 */
export async function grantRestrictedUser(server: string, pki: ClusterPki): Promise<void> {
  const rbac = 'rbac.authorization.k8s.io';
  const role = {
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRole',
    metadata: { name: restrictedUserName },
    rules: [
      {
        apiGroups: [''],
        resources: [...restrictedUserResources],
        verbs: ['*'],
      },
    ],
  };
  const binding = {
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: restrictedUserName },
    roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: restrictedUserName },
    subjects: [{ apiGroup: rbac, kind: 'User', name: restrictedUserName }],
  };
  for (const [kind, object] of [
    ['clusterroles', role],
    ['clusterrolebindings', binding],
  ] as const) {
    await waitUntil(
      `${object.kind} for the restricted user`,
      async () => {
        const status = await postJson(`${server}/apis/${rbac}/v1/${kind}`, object, pki);
        return status === 201 || status === 409;
      },
      startTimeoutMs,
    );
  }
  // The authorizer sees the binding through a watch; wait until it applies.
  await waitUntil(
    'RBAC for the restricted user',
    async () => {
      const body = await getText(`${server}/api/v1/namespaces/default/pods?limit=1`, {
        ca: pki.caCert,
        token: pki.tokens.restricted,
      });
      return (JSON.parse(body) as { kind?: string }).kind === 'PodList';
    },
    startTimeoutMs,
  );
}

/** The default StorageClass, the same as the emulator's (kind's and minikube's are also `standard`). */
export async function createDefaultStorageClass(server: string, pki: ClusterPki): Promise<void> {
  const status = await postJson(
    `${server}/apis/storage.k8s.io/v1/storageclasses`,
    { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', ...standardStorageClass() },
    pki,
  );
  if (status !== 201 && status !== 409) {
    throw new Error(`creating the default StorageClass failed: HTTP ${status}`);
  }
}

/**
 * Starts a control-plane component that talks to the apiserver with its own token and serves
 * its health on a secure port of 127.0.0.1; resolves once /healthz answers.
 */
async function startSecuredComponent(
  options: ControlPlaneOptions,
  server: string,
  component: { name: string; user: string; token: string; flags: string[] },
): Promise<void> {
  const { pki, clusterDir } = options;
  const { name } = component;
  const kubeconfig = join(clusterDir, `${name}.kubeconfig`);
  await writeKubeconfig(kubeconfig, server, pki.caCert, [
    { context: name, user: component.user, token: component.token },
  ]);
  const port = await freePort();
  const certDir = join(clusterDir, `${name}-certs`);
  await mkdir(certDir, { recursive: true });
  const child = startProcess(
    name,
    join(options.binDir, name),
    [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${certDir}`,
      '--leader-elect=false',
      ...component.flags,
    ],
    join(clusterDir, `${name}.log`),
  );
  options.track(child);
  await waitForHealthz(name, port, child);
  options.log(`${name} ready`);
}

export function startControllerManager(
  options: ControlPlaneOptions,
  server: string,
): Promise<void> {
  const { pki } = options;
  return startSecuredComponent(options, server, {
    name: 'kube-controller-manager',
    user: 'system:kube-controller-manager',
    token: pki.tokens.controllerManager,
    flags: [
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      `--service-cluster-ip-range=${serviceCidr}`,
      `--cluster-cidr=${clusterCidr}`,
      '--allocate-node-cidrs=false',
      // Claims of the default class get a directory under /tmp/hostpath_pv on the node.
      '--enable-hostpath-provisioner',
    ],
  });
}

export function startScheduler(options: ControlPlaneOptions, server: string): Promise<void> {
  return startSecuredComponent(options, server, {
    name: 'kube-scheduler',
    user: 'system:kube-scheduler',
    token: options.pki.tokens.scheduler,
    flags: [],
  });
}

/** Waits until the node reports Ready, so pods can be scheduled once the CLI says ready. */
export async function waitForNodeReady(
  server: string,
  pki: ClusterPki,
  nodeName: string,
): Promise<void> {
  await waitUntil(
    `node ${nodeName} Ready`,
    async () => {
      const body = await getText(`${server}/api/v1/nodes/${nodeName}`, {
        ca: pki.caCert,
        token: pki.tokens.admin,
      });
      const node = JSON.parse(body) as {
        spec?: { taints?: { key: string }[] };
        status?: { conditions?: { type: string; status: string }[] };
      };
      // The node lifecycle controller lifts the not-ready taint some time after the kubelet
      // reports Ready; until then the scheduler places nothing on the node.
      const tainted = (node.spec?.taints ?? []).some((taint) =>
        taint.key.startsWith('node.kubernetes.io/'),
      );
      const ready = !!node.status?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'True',
      );
      return ready && !tainted;
    },
    startTimeoutMs,
  );
}

/**
 * Marks the node as the control plane's, as kubeadm (and so kind) does on a single-node cluster;
 * the kubelet may not set a node-role label on itself.
 */
export async function labelControlPlaneNode(
  server: string,
  pki: ClusterPki,
  nodeName: string,
): Promise<void> {
  const patch = { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '' } } };
  const status = await postJson(
    `${server}/api/v1/nodes/${nodeName}`,
    patch,
    pki,
    'PATCH',
    'application/merge-patch+json',
  );
  if (status !== 200) {
    throw new Error(`labelling node ${nodeName} as the control plane's failed: HTTP ${status}`);
  }
}

async function waitForHealthz(name: string, port: number, process: ManagedProcess): Promise<void> {
  await waitUntil(
    name,
    async () => (await getText(`https://127.0.0.1:${port}/healthz`, { insecure: true })) === 'ok',
    startTimeoutMs,
    process,
  );
}

export interface RequestAuth {
  ca?: string;
  token?: string;
  /** For components serving a self-signed cert of their own, probed only for health. */
  insecure?: boolean;
}

export function getText(url: string, auth: RequestAuth = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = auth.token
      ? { authorization: `Bearer ${auth.token}` }
      : {};
    const onResponse = (response: import('node:http').IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body.trim()));
      response.on('error', reject);
    };
    const sent = url.startsWith('https:')
      ? request(
          url,
          {
            headers,
            ca: auth.ca ? readFileSync(auth.ca) : undefined,
            rejectUnauthorized: !auth.insecure,
            timeout: 5000,
          },
          onResponse,
        )
      : httpRequest(url, { headers, timeout: 5000 }, onResponse);
    sent.on('timeout', () => sent.destroy(new Error(`timeout: ${url}`)));
    sent.on('error', reject);
    sent.end();
  });
}

function postJson(
  url: string,
  body: unknown,
  pki: ClusterPki,
  method = 'POST',
  contentType = 'application/json',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request(
      url,
      {
        method,
        ca: readFileSync(pki.caCert),
        headers: {
          authorization: `Bearer ${pki.tokens.admin}`,
          'content-type': contentType,
        },
        timeout: 5000,
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    sent.on('timeout', () => sent.destroy(new Error(`timeout: ${url}`)));
    sent.on('error', reject);
    sent.end(JSON.stringify(body));
  });
}
