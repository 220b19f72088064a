import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kubectlVersion, requireTool, withEmulator } from '../support/emulatorFixture.ts';
import { kubectlRunner } from './kubectlRunner.ts';

const version = kubectlVersion();
const usable = version !== undefined && (version[0] > 1 || version[1] >= 30);
const restricted = { context: 'pod-runner-emulator-restricted' };

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
});
