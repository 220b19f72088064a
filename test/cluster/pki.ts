import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileAsync } from './processes.ts';

/** Everything the control plane authenticates with, as files in the cluster's temp dir. */
export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  /** The apiserver's client identity towards kubelets (system:masters). */
  kubeletClientCert: string;
  kubeletClientKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
  tokenFile: string;
  tokens: ClusterTokens;
}

export interface ClusterTokens {
  admin: string;
  restricted: string;
  controllerManager: string;
  scheduler: string;
  kubelet: string;
}

export const restrictedUserName = 'pod-runner-restricted';
export const kubeletUserName = (nodeName: string) => `system:node:${nodeName}`;

const certificateDays = '30';

export async function createPki(
  dir: string,
  serviceIp: string,
  nodeName: string,
): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, name);
  const caKey = file('ca.key');
  const caCert = file('ca.crt');
  await openssl('genrsa', '-out', caKey, '2048');
  await openssl(
    ...['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=pod-runner-cluster-ca'],
    ...['-days', certificateDays, '-out', caCert],
  );
  const apiserverNames = [
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
    'IP:127.0.0.1',
    `IP:${serviceIp}`,
  ];
  await signedCertificate(dir, 'apiserver', '/CN=kube-apiserver', caCert, caKey, apiserverNames);
  await signedCertificate(
    dir,
    'apiserver-kubelet-client',
    '/O=system:masters/CN=kube-apiserver-kubelet-client',
    caCert,
    caKey,
  );
  const serviceAccountKey = file('service-account.key');
  const serviceAccountPublicKey = file('service-account.pub');
  await openssl('genrsa', '-out', serviceAccountKey, '2048');
  await openssl('rsa', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPublicKey);

  const newToken = () => randomBytes(24).toString('hex');
  const tokens: ClusterTokens = {
    admin: newToken(),
    restricted: newToken(),
    controllerManager: newToken(),
    scheduler: newToken(),
    kubelet: newToken(),
  };
  // Token file lines: token,user,uid,"group,group".
  const tokenFile = file('tokens.csv');
  await writeFile(
    tokenFile,
    [
      `${tokens.admin},pod-runner-admin,pod-runner-admin,"system:masters"`,
      `${tokens.restricted},${restrictedUserName},${restrictedUserName}`,
      `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager`,
      `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
      `${tokens.kubelet},${kubeletUserName(nodeName)},${kubeletUserName(nodeName)},"system:nodes"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return {
    dir,
    caCert,
    caKey,
    apiserverCert: file('apiserver.crt'),
    apiserverKey: file('apiserver.key'),
    kubeletClientCert: file('apiserver-kubelet-client.crt'),
    kubeletClientKey: file('apiserver-kubelet-client.key'),
    serviceAccountKey,
    serviceAccountPublicKey,
    tokenFile,
    tokens,
  };
}

/** A key and a certificate signed by the cluster CA; `altNames` makes it a serving cert. */
export async function signedCertificate(
  dir: string,
  name: string,
  subject: string,
  caCert: string,
  caKey: string,
  altNames: string[] = [],
): Promise<void> {
  const key = join(dir, `${name}.key`);
  const request = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  await openssl('genrsa', '-out', key, '2048');
  await openssl('req', '-new', '-key', key, '-subj', subject, '-out', request);
  const usage = altNames.length > 0 ? 'serverAuth' : 'clientAuth';
  await writeFile(
    extensions,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usage}`,
      ...(altNames.length > 0 ? [`subjectAltName=${altNames.join(',')}`] : []),
      '',
    ].join('\n'),
  );
  await openssl(
    ...['x509', '-req', '-in', request, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial'],
    ...['-days', certificateDays, '-extfile', extensions, '-out', join(dir, `${name}.crt`)],
  );
}

async function openssl(...args: string[]): Promise<void> {
  await execFileAsync('openssl', args);
}
