import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { kubectlVersion, requireTool } from '../support/emulatorFixture.ts';
import { backendName, withBackend, type TestBackend } from '../support/backend.ts';
import { scratchDir } from '../support/scratch.ts';
import { kubectlRunner } from './kubectlRunner.ts';

const version = kubectlVersion();
const usable = version !== undefined && (version[0] > 1 || version[1] >= 30);

/** kubectl's printed table as rows of cells (cells are separated by two or more spaces). */
const columns = (output: string) =>
  output
    .trim()
    .split('\n')
    .map((line) => line.split(/\s{2,}/));

describe(`kubectl against ${backendName}`, () => {
  let backend: TestBackend;
  const home = scratchDir('kubectl-home-');
  let env: NodeJS.ProcessEnv;

  const kubectl = kubectlRunner(() => env);

  before(async () => {
    backend = await withBackend();
    env = { ...process.env, KUBECONFIG: backend.kubeconfigPath, HOME: home };
  });

  after(async () => {
    await backend.verifyNoLeaks();
  });

  test('version reports the server', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const result = await kubectl(['version', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout) as { serverVersion: { gitVersion: string } };
    // The emulator says 1.32; the cluster tier's node is 1.33.
    assert.match(info.serverVersion.gitVersion, /^v1\.3[23]\./);
  });

  test("get ns lists the apiserver's own namespaces", async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const result = await kubectl(['get', 'ns', '-o', 'name']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n').sort(), [
      'namespace/default',
      'namespace/kube-node-lease',
      'namespace/kube-public',
      'namespace/kube-system',
    ]);
  });

  test('get prints the server-side columns: pods (and -o wide), services, secrets, nodes, events; -w rows', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const manifest = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: printed}',
      'spec:',
      '  terminationGracePeriodSeconds: 1',
      '  containers: [{name: main, image: busybox, command: [sleep, "300"]}]',
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: printed}',
      'spec: {selector: {app: printed}, ports: [{port: 80, targetPort: 8080}]}',
      '---',
      'apiVersion: v1',
      'kind: Secret',
      'metadata: {name: printed}',
      'stringData: {a: "1", b: "2"}',
    ].join('\n');
    assert.equal((await kubectl(['apply', '-f', '-'], { input: manifest })).code, 0);
    const watching = kubectl(['get', 'pod', 'printed', '-w', '--request-timeout=4s']);
    assert.equal((await kubectl(['wait', '--for=condition=Ready', 'pod/printed'])).code, 0);
    const pods = columns((await kubectl(['get', 'pods'])).stdout);
    assert.deepEqual(pods[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    assert.deepEqual(pods[1]!.slice(0, 4), ['printed', '1/1', 'Running', '0']);
    const wide = columns((await kubectl(['get', 'pods', '-o', 'wide'])).stdout);
    assert.deepEqual(wide[0]!.slice(5, 7), ['IP', 'NODE']);
    const nodes = columns((await kubectl(['get', 'nodes'])).stdout);
    assert.equal(nodes.length, 2, 'one node');
    assert.equal(wide[1]![6], nodes[1]![0]);
    const services = columns((await kubectl(['get', 'svc', 'printed'])).stdout);
    assert.deepEqual(services[0], ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    assert.deepEqual(services[1]!.slice(0, 2), ['printed', 'ClusterIP']);
    assert.equal(services[1]![4], '80/TCP');
    const secrets = columns((await kubectl(['get', 'secret', 'printed'])).stdout);
    assert.deepEqual(secrets[1]!.slice(0, 3), ['printed', 'Opaque', '2']);
    assert.deepEqual(nodes[1]!.slice(1, 3), ['Ready', 'control-plane']);
    const events = columns((await kubectl(['get', 'events'])).stdout);
    assert.deepEqual(events[0], ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    assert.ok(events.some((row) => row[2] === 'Scheduled' && row[3] === 'pod/printed'));
    const watched = columns((await watching).stdout);
    assert.deepEqual(watched[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    assert.ok(
      watched.slice(1).some((row) => row[0] === 'printed' && row[2] === 'Running'),
      `the watch printed rows: ${JSON.stringify(watched)}`,
    );
    assert.equal(
      (await kubectl(['delete', 'pod/printed', 'svc/printed', 'secret/printed'])).code,
      0,
    );
  });

  test('apply, wait Ready, exec, logs, status, events, graceful and forced delete', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const manifest = join(home, 'pod.yaml');
    await writeFile(
      manifest,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: conformance, labels: {app: conformance}}',
        'spec:',
        '  terminationGracePeriodSeconds: 20',
        '  containers:',
        '  - name: main',
        '    image: python:3-slim',
        '    command: ["/bin/sh", "-c", "echo booted; trap \'echo got TERM; exit 0\' TERM; while true; do sleep 0.2; done"]',
      ].join('\n'),
    );
    const applied = await kubectl(['apply', '-f', manifest]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /pod\/conformance created/);

    const waited = await kubectl([
      'wait',
      '--for=condition=Ready',
      'pod/conformance',
      '--timeout=30s',
    ]);
    assert.equal(waited.code, 0, waited.stderr);

    const exec = await kubectl(['exec', 'conformance', '--', 'python', '-c', 'print(6*7)']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, '42\n');

    const piped = await kubectl(
      [
        'exec',
        '-i',
        'conformance',
        '--',
        'python',
        '-c',
        'import sys; print(sys.stdin.read().upper(), end="")',
      ],
      { input: 'piped stdin\n' },
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'PIPED STDIN\n');

    const failing = await kubectl([
      'exec',
      'conformance',
      '--',
      'sh',
      '-c',
      'echo to stderr >&2; exit 3',
    ]);
    assert.equal(failing.code, 3);
    assert.match(failing.stderr, /to stderr/);
    assert.match(failing.stderr, /command terminated with exit code 3/);

    const missing = await kubectl(['exec', 'conformance', '--', 'no-such-binary']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /executable file not found in \$PATH/);

    const logs = await kubectl(['logs', 'conformance']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'booted\n');

    const json = await kubectl(['get', 'pod', 'conformance', '-o', 'json']);
    const pod = JSON.parse(json.stdout) as {
      status: {
        phase: string;
        conditions: { type: string; status: string }[];
        containerStatuses: { name: string; ready: boolean; state: { running?: unknown } }[];
        podIP: string;
      };
      spec: { nodeName: string };
    };
    assert.equal(pod.status.phase, 'Running');
    assert.ok(pod.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    assert.equal(pod.status.containerStatuses[0]?.ready, true);
    assert.ok(pod.status.containerStatuses[0]?.state.running);
    assert.ok(pod.spec.nodeName);

    const events = await kubectl([
      'get',
      'events',
      '--field-selector',
      'involvedObject.name=conformance',
      '-o',
      'json',
    ]);
    const items = (JSON.parse(events.stdout) as { items: { reason: string; message: string }[] })
      .items;
    const reasons = items.map((e) => e.reason);
    for (const reason of ['Scheduled', 'Pulled', 'Created', 'Started']) {
      assert.ok(reasons.includes(reason), `event ${reason} in ${reasons.join(',')}`);
    }
    // An image already on the node (an earlier pod's) is not pulled again.
    const pulled = items.find((e) => e.reason === 'Pulled')!.message;
    assert.ok(
      reasons.includes('Pulling') || /already present on machine/.test(pulled),
      `Pulling, or Pulled as already present: ${pulled}`,
    );

    const started = Date.now();
    const deleted = await kubectl(['delete', 'pod', 'conformance', '--timeout=30s']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.ok(
      Date.now() - started < 15_000,
      'a TERM-aware container goes well before its 20 s grace period',
    );
    const gone = await kubectl(['get', 'pod', 'conformance']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /pods "conformance" not found/);

    const stubborn = join(home, 'stubborn.yaml');
    await writeFile(
      stubborn,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n  containers:\n  - {name: main, image: busybox, command: [sh, -c, "while true; do sleep 1; done"]}\n',
    );
    assert.equal((await kubectl(['create', '-f', stubborn])).code, 0);
    assert.equal(
      (await kubectl(['wait', '--for=condition=Ready', 'pod/stubborn', '--timeout=30s'])).code,
      0,
    );
    const forcedAt = Date.now();
    const forced = await kubectl(['delete', 'pod', 'stubborn', '--grace-period=0', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /Immediate deletion does not wait for confirmation/);
    assert.ok(Date.now() - forcedAt < 10_000);
  });

  test('storage: a pod waits Unschedulable for its claim; the default class provisions it; data outlives the pod; the volume goes with the claim', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const classes = columns((await kubectl(['get', 'storageclass'])).stdout);
    assert.deepEqual(classes[0], [
      'NAME',
      'PROVISIONER',
      'RECLAIMPOLICY',
      'VOLUMEBINDINGMODE',
      'ALLOWVOLUMEEXPANSION',
      'AGE',
    ]);
    assert.deepEqual(classes[1]!.slice(0, 5), [
      'standard (default)',
      'kubernetes.io/host-path',
      'Delete',
      'Immediate',
      'false',
    ]);
    const invalid = await kubectl(['apply', '-f', '-'], {
      input:
        'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: invalid}\nspec: {resources: {requests: {storage: 1Mi}}}\n',
    });
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /spec\.accessModes: Required value/);

    const pod = (name: string, script: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  restartPolicy: Never\n  volumes: [{name: data, persistentVolumeClaim: {claimName: late-claim}}]\n  containers:\n  - {name: main, image: busybox, command: [sh, -c, "${script}"], volumeMounts: [{name: data, mountPath: /data}]}\n`;
    const phase = (name: string, value: string) =>
      kubectl(['wait', `--for=jsonpath={.status.phase}=${value}`, name, '--timeout=60s']);
    assert.equal(
      (await kubectl(['apply', '-f', '-'], { input: pod('writer', 'echo kept > /data/note') }))
        .code,
      0,
    );
    const waiting = await kubectl([
      'wait',
      '--for=condition=PodScheduled=false',
      'pod/writer',
      '--timeout=30s',
    ]);
    assert.equal(waiting.code, 0, waiting.stderr);
    const scheduling = await kubectl([
      'get',
      'pod/writer',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}: {.status.conditions[?(@.type=="PodScheduled")].message}',
    ]);
    assert.match(
      scheduling.stdout,
      /^Unschedulable: 0\/1 nodes are available: persistentvolumeclaim "late-claim" not found\./,
    );

    const claim =
      'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: late-claim}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n';
    assert.equal((await kubectl(['apply', '-f', '-'], { input: claim })).code, 0);
    assert.equal((await phase('pvc/late-claim', 'Bound')).code, 0);
    const volume = (await kubectl(['get', 'pvc/late-claim', '-o', 'jsonpath={.spec.volumeName}']))
      .stdout;
    const claimRows = columns((await kubectl(['get', 'pvc'])).stdout);
    assert.deepEqual(claimRows[0], [
      'NAME',
      'STATUS',
      'VOLUME',
      'CAPACITY',
      'ACCESS MODES',
      'STORAGECLASS',
      'VOLUMEATTRIBUTESCLASS',
      'AGE',
    ]);
    assert.deepEqual(claimRows.find((row) => row[0] === 'late-claim')!.slice(0, 7), [
      'late-claim',
      'Bound',
      volume,
      '1Mi',
      'RWO',
      'standard',
      '<unset>',
    ]);
    const bound = await kubectl([
      'get',
      `pv/${volume}`,
      '-o',
      'jsonpath={.status.phase} {.spec.claimRef.namespace}/{.spec.claimRef.name} {.spec.persistentVolumeReclaimPolicy} {.spec.storageClassName}',
    ]);
    assert.equal(bound.stdout, 'Bound default/late-claim Delete standard');
    assert.equal((await phase('pod/writer', 'Succeeded')).code, 0, 'the pod ran once bound');

    await kubectl(['apply', '-f', '-'], { input: pod('reader', 'cat /data/note') });
    assert.equal((await phase('pod/reader', 'Succeeded')).code, 0);
    assert.equal((await kubectl(['logs', 'reader'])).stdout, 'kept\n');

    assert.equal((await kubectl(['delete', 'pod/writer', 'pod/reader', 'pvc/late-claim'])).code, 0);
    const gone = await kubectl(['wait', '--for=delete', `pv/${volume}`, '--timeout=30s']);
    assert.equal(gone.code, 0, gone.stderr);
  });

  test('auth can-i answers from the same rules for both users', async (t) => {
    if (!requireTool(t, usable, 'kubectl >= 1.30')) {
      return;
    }
    const admin = await kubectl(['auth', 'can-i', 'create', 'pods', '--subresource=exec']);
    assert.equal(admin.stdout.trim(), 'yes');
    const restrictedExec = await kubectl(
      ['auth', 'can-i', 'create', 'pods', '--subresource=exec'],
      { context: backend.restrictedContext },
    );
    assert.equal(restrictedExec.stdout.trim(), 'no');
    assert.equal(restrictedExec.code, 1);
    const restrictedSecrets = await kubectl(['auth', 'can-i', 'list', 'secrets'], {
      context: backend.restrictedContext,
    });
    assert.equal(restrictedSecrets.stdout.trim(), 'no');
    const restrictedPods = await kubectl(['auth', 'can-i', 'create', 'pods'], {
      context: backend.restrictedContext,
    });
    assert.equal(restrictedPods.stdout.trim(), 'yes');
    const denied = await kubectl(['get', 'secrets'], { context: backend.restrictedContext });
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /secrets is forbidden: User "pod-runner-restricted" cannot list resource "secrets" in API group "" in the namespace "default"/,
    );
  });
});
