import { readFile, writeFile } from 'node:fs/promises';

export interface KubeconfigUser {
  context: string;
  user: string;
  token: string;
}

/**
 * A kubeconfig (JSON is valid YAML) whose first user is the current context. Tokens are written
 * only into files with mode 0600.
 */
export async function writeKubeconfig(
  path: string,
  server: string,
  caCertPath: string,
  users: KubeconfigUser[],
): Promise<void> {
  const clusterName = 'pod-runner-cluster';
  const caData = (await readFile(caCertPath)).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: clusterName, cluster: { server, 'certificate-authority-data': caData } }],
    users: users.map(({ user, token }) => ({ name: user, user: { token } })),
    contexts: users.map(({ context, user }) => ({
      name: context,
      context: { cluster: clusterName, user, namespace: 'default' },
    })),
    'current-context': users[0]?.context ?? '',
    preferences: {},
  };
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
