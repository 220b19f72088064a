import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OptionError,
  PodJupyterServer,
  defaultJupyterCommand,
  type JsonObject,
} from '../../src/core/index.ts';

type Container = {
  env: { name: string; value: string }[];
  envFrom: { secretRef: { name: string } }[];
};
const container = (pod: JsonObject) =>
  ((pod.spec as JsonObject).containers as JsonObject[])[0] as unknown as Container;
const kgIp = (pod: JsonObject) => container(pod).env.find((e) => e.name === 'KG_IP')?.value;

test("a port-forwarded gateway (the default) listens on the pod's loopback and has no Service", () => {
  const manifests = new PodJupyterServer({ podName: 'g' }).manifestsFor('default');
  assert.equal(manifests.service, undefined);
  assert.equal(kgIp(manifests.pod), '127.0.0.1');
  assert.ok(
    !defaultJupyterCommand.join(' ').includes('KernelGatewayApp.ip'),
    'a command-line ip would override KG_IP',
  );
});

test('an in-cluster gateway listens on every address behind a ClusterIP Service', () => {
  const manifests = new PodJupyterServer({ podName: 'g', access: 'inCluster' }).manifestsFor('ns');
  assert.equal(kgIp(manifests.pod), '0.0.0.0');
  assert.equal((manifests.service?.spec as JsonObject).type, 'ClusterIP');
});

test('a serviceSpec needs access inCluster', () => {
  assert.throws(
    () => new PodJupyterServer({ serviceSpec: { spec: {} } }),
    (error: OptionError) => error instanceof OptionError && error.option === 'serviceSpec',
  );
});

test("the podSpec's metadata.name is the podName; two different names are refused", () => {
  const podSpec = { metadata: { name: 'from-spec' }, spec: { containers: [] } };
  const server = new PodJupyterServer({ podSpec });
  assert.equal(server.podName, 'from-spec');
  assert.equal((server.manifestsFor('default').pod.metadata as JsonObject).name, 'from-spec');
  assert.throws(() => new PodJupyterServer({ podSpec, podName: 'other' }), OptionError);
});

test("only the gateway's own Secret reference is replaced in envFrom; the user's stay", () => {
  const server = new PodJupyterServer({
    podName: 'g',
    secretSpec: { metadata: { name: 'my-own-token' }, stringData: { KG_AUTH_TOKEN: 't' } },
    podSpec: {
      spec: {
        containers: [
          {
            name: 'autogen-executor',
            envFrom: [
              { secretRef: { name: 'team-secret' } },
              { secretRef: { name: 'g-secret' } },
              { configMapRef: { name: 'settings' } },
            ],
          },
        ],
      },
    },
  });
  assert.deepEqual(container(server.manifestsFor('default').pod).envFrom, [
    { secretRef: { name: 'team-secret' } },
    { configMapRef: { name: 'settings' } },
    { secretRef: { name: 'my-own-token' } },
  ]);
});
