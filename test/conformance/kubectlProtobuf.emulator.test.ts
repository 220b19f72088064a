import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServingCertificates } from '../emulator/apiserver/certificates.ts';
import {
  apiRequest,
  kubectlVersion,
  requireTool,
  withEmulator,
} from '../support/emulatorFixture.ts';
import { kubectlRunner } from './kubectlRunner.ts';

const version = kubectlVersion();
const usable = version !== undefined && (version[0] > 1 || version[1] >= 30);
const restricted = { context: 'pod-runner-emulator-restricted' };

/** The fields the typed creates set, as `kubectl get -o json` prints them. */
interface StoredObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  type?: string;
  spec?: {
    type?: string;
    selector?: Record<string, string>;
    ports?: unknown[];
    clusterIP?: string;
    externalName?: string;
    externalTrafficPolicy?: string;
    allocateLoadBalancerNodePorts?: boolean;
  };
  status?: { phase?: string };
}

/** The review the server answered, as kubectl -v=9 logged it. */
function answeredReview(stderr: string): { spec: { resourceAttributes: Record<string, string> } } {
  const line = stderr
    .split('\n')
    .find((l) => l.includes('"Response Body" body="{\\"kind\\":\\"SelfSubjectAccessReview\\"'));
  assert.ok(line, `kubectl logged no review response:\n${stderr}`);
  return JSON.parse(JSON.parse(/body=("(?:[^"\\]|\\.)*")/.exec(line)![1]!) as string) as {
    spec: { resourceAttributes: Record<string, string> };
  };
}

// kubectl's typed commands send protobuf bodies (auth can-i, create namespace/secret/...).
describe('kubectl commands that send protobuf', () => {
  let emulator: Awaited<ReturnType<typeof withEmulator>>;
  let env: NodeJS.ProcessEnv;
  const kubectl = kubectlRunner(() => env);

  before(async () => {
    emulator = await withEmulator();
    env = { ...process.env, KUBECONFIG: emulator.kubeconfigPath, HOME: emulator.stateDirectory };
  });

  after(async () => {
    await emulator.verifyNoLeaks();
  });

  test('auth can-i: every ResourceAttributes field arrives where kubectl put it', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const asked = await kubectl([
      'auth',
      'can-i',
      'get',
      'pods/web',
      '--subresource=log',
      '-n',
      'kube-system',
      '-v=9',
    ]);
    assert.equal(asked.stdout.trim(), 'yes', asked.stderr);
    const attributes = Object.entries(answeredReview(asked.stderr).spec.resourceAttributes);
    assert.deepEqual(Object.fromEntries(attributes.filter(([, value]) => value !== '')), {
      namespace: 'kube-system',
      verb: 'get',
      resource: 'pods',
      subresource: 'log',
      name: 'web',
    });
  });

  test('auth can-i: the restricted user may not exec or touch secrets; what it may do is "yes"', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const answers: [string[], typeof restricted | undefined, 'yes' | 'no'][] = [
      [['create', 'pods', '--subresource=exec'], restricted, 'no'],
      [['get', 'pods', '--subresource=exec'], restricted, 'no'],
      [['create', 'pods', '--subresource=exec', '-n', 'kube-system'], restricted, 'no'],
      [['get', 'secrets'], restricted, 'no'],
      [['create', 'secrets'], restricted, 'no'],
      [['delete', 'secrets/token'], restricted, 'no'],
      [['create', 'pods'], restricted, 'yes'],
      [['get', 'pods', '--subresource=log'], restricted, 'yes'],
      [['create', 'pods', '--subresource=portforward'], restricted, 'yes'],
      [['create', 'configmaps'], restricted, 'yes'],
      // TYPE/NAME names an object: this asks about creating a pod called "exec", which the
      // restricted role allows (a real apiserver's RBAC answers the same); --subresource asks
      // about exec.
      [['create', 'pods/exec'], restricted, 'yes'],
      [['create', 'pods', '--subresource=exec'], undefined, 'yes'],
      [['list', 'secrets'], undefined, 'yes'],
    ];
    for (const [args, user, expected] of answers) {
      const result = await kubectl(['auth', 'can-i', ...args], user);
      const who = user ? 'restricted' : 'admin';
      assert.equal(result.stdout.trim(), expected, `${who}: can-i ${args.join(' ')}`);
      assert.equal(result.code, expected === 'yes' ? 0 : 1, result.stderr);
    }
  });

  test('typed creates (namespace, configmap, secrets, services) arrive whole; get -o json shows their fields', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const ok = async (args: string[]) => {
      const result = await kubectl(args);
      assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    const getJson = async (...args: string[]) =>
      JSON.parse(await ok(['get', ...args, '-o', 'json'])) as StoredObject;
    const files = emulator.stateDirectory;
    const pair = await createServingCertificates();
    await writeFile(join(files, 'tls.crt'), pair.certPem);
    await writeFile(join(files, 'tls.key'), pair.keyPem);
    await writeFile(join(files, 'blob'), Buffer.from([0xff, 0x00, 0xfe]));

    await ok(['create', 'namespace', 'typed']);
    const namespace = await getJson('namespace', 'typed');
    assert.equal(namespace.metadata.name, 'typed');
    assert.equal(namespace.status?.phase, 'Active');
    const ns = ['-n', 'typed'];

    await ok([
      'create',
      'configmap',
      'settings',
      ...ns,
      '--from-literal=mode=fast',
      '--from-literal=level=3',
      `--from-file=blob=${join(files, 'blob')}`,
    ]);
    const configMap = await getJson('configmap', 'settings', ...ns);
    assert.deepEqual(configMap.data, { level: '3', mode: 'fast' });
    assert.deepEqual(configMap.binaryData, { blob: '/wD+' });
    assert.equal(configMap.metadata.namespace, 'typed');

    await ok([
      'create',
      'secret',
      'generic',
      'token',
      ...ns,
      '--from-literal=key=s3cret',
      '--type=example.com/token',
    ]);
    const generic = await getJson('secret', 'token', ...ns);
    assert.equal(generic.type, 'example.com/token');
    assert.equal(Buffer.from(generic.data?.key ?? '', 'base64').toString(), 's3cret');

    await ok([
      'create',
      'secret',
      'tls',
      'serving',
      ...ns,
      `--cert=${join(files, 'tls.crt')}`,
      `--key=${join(files, 'tls.key')}`,
    ]);
    const tls = await getJson('secret', 'serving', ...ns);
    assert.equal(tls.type, 'kubernetes.io/tls');
    assert.equal(Buffer.from(tls.data?.['tls.crt'] ?? '', 'base64').toString(), pair.certPem);
    assert.equal(Buffer.from(tls.data?.['tls.key'] ?? '', 'base64').toString(), pair.keyPem);

    await ok([
      'create',
      'secret',
      'docker-registry',
      'pull',
      ...ns,
      '--docker-server=registry.example',
      '--docker-username=robot',
      '--docker-password=hunter2',
    ]);
    const pull = await getJson('secret', 'pull', ...ns);
    assert.equal(pull.type, 'kubernetes.io/dockerconfigjson');
    const dockerConfig = JSON.parse(
      Buffer.from(pull.data?.['.dockerconfigjson'] ?? '', 'base64').toString(),
    ) as { auths: Record<string, { username: string; password: string }> };
    assert.equal(dockerConfig.auths['registry.example']?.username, 'robot');
    assert.equal(dockerConfig.auths['registry.example']?.password, 'hunter2');

    await ok(['create', 'service', 'clusterip', 'web', ...ns, '--tcp=80:8080']);
    const web = await getJson('service', 'web', ...ns);
    assert.deepEqual(web.metadata.labels, { app: 'web' });
    assert.equal(web.spec?.type, 'ClusterIP');
    assert.deepEqual(web.spec?.selector, { app: 'web' });
    assert.deepEqual(web.spec?.ports, [
      { name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080 },
    ]);
    assert.match(web.spec?.clusterIP ?? '', /^\d+\.\d+\.\d+\.\d+$/);

    await ok([
      'create',
      'service',
      'nodeport',
      'edge',
      ...ns,
      '--tcp=81:8081',
      '--node-port=30081',
    ]);
    const edge = await getJson('service', 'edge', ...ns);
    assert.equal(edge.spec?.type, 'NodePort');
    assert.deepEqual(edge.spec?.ports, [
      { name: '81-8081', nodePort: 30081, port: 81, protocol: 'TCP', targetPort: 8081 },
    ]);

    await ok(['create', 'service', 'loadbalancer', 'front', ...ns, '--tcp=443:8443']);
    const front = await getJson('service', 'front', ...ns);
    assert.equal(front.spec?.type, 'LoadBalancer');
    assert.equal(front.spec?.externalTrafficPolicy, 'Cluster');
    assert.equal(front.spec?.allocateLoadBalancerNodePorts, true);
    // The apiserver allocates a node port for each port of a LoadBalancer (or NodePort) service.
    assert.deepEqual(front.spec?.ports, [
      { name: '443-8443', nodePort: 30000, port: 443, protocol: 'TCP', targetPort: 8443 },
    ]);

    await ok(['create', 'service', 'externalname', 'db', ...ns, '--external-name=db.example.com']);
    const db = await getJson('service', 'db', ...ns);
    assert.equal(db.spec?.type, 'ExternalName');
    assert.equal(db.spec?.externalName, 'db.example.com');
    assert.equal(db.spec?.clusterIP, undefined);

    const printed = await ok([
      'get',
      'services',
      ...ns,
      '-o',
      'custom-columns=NAME:.metadata.name',
    ]);
    assert.deepEqual(printed.trim().split('\n'), ['NAME', 'db', 'edge', 'front', 'web']);
    const table = await ok(['get', 'services', ...ns]);
    assert.match(table, /^edge\s+NodePort\s+\S+\s+<none>\s+81:30081\/TCP\s/m);
    assert.match(table, /^front\s+LoadBalancer\s+\S+\s+<pending>\s+443:30000\/TCP\s/m);
    assert.match(table, /^db\s+ExternalName\s+<none>\s+db\.example\.com\s+<none>\s/m);
    assert.match(table, /^web\s+ClusterIP\s+\S+\s+<none>\s+80\/TCP\s/m);

    const listed = await ok(['get', 'configmaps,secrets,services', ...ns, '-o', 'name']);
    assert.deepEqual(listed.trim().split('\n').sort(), [
      'configmap/settings',
      'secret/pull',
      'secret/serving',
      'secret/token',
      'service/db',
      'service/edge',
      'service/front',
      'service/web',
    ]);
    await ok(['delete', 'namespace', 'typed', '--timeout=30s']);
  });

  test('a malformed protobuf body is a 400 that says what is wrong', async () => {
    const reply = await apiRequest(emulator, 'POST', '/api/v1/namespaces/default/configmaps', {
      body: 'k8s\u0000\n\u0005ab',
      contentType: 'application/vnd.kubernetes.protobuf',
    });
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'the body is not a valid Kubernetes protobuf object: field 1 claims 5 bytes, only 2 remain',
      reason: 'BadRequest',
      code: 400,
    });
  });
});
