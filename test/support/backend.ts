import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  restrictedContext,
  type EmulatorOptions,
  type KubeconfigDocument,
  type RunningEmulator,
} from '../emulator/index.ts';
import { eventually, managedNames, withEmulator } from './emulatorFixture.ts';

/**
 * The Kubernetes a shared test runs against: an emulator of its own, or, in the cluster tier, the
 * real single-node cluster test/runSuite.ts started (its kubeconfig named by this variable). One
 * set of tests, two back ends; tests that need the emulator's fault injection say so with
 * `emulatorOnly` and run on the emulator alone.
 */
export const clusterKubeconfigVariable = 'POD_RUNNER_CLUSTER_KUBECONFIG';

export const onCluster = Boolean(process.env[clusterKubeconfigVariable]);

/** What a shared file's describe() says it runs on. */
export const backendName = onCluster ? 'a real node' : 'the emulator';

/** A test's `skip` option: the reason on the cluster tier, nothing on the emulator. */
export const emulatorOnly = (why: string): string | false =>
  onCluster ? `emulator only: ${why}` : false;

export interface TestBackend {
  kind: 'emulator' | 'cluster';
  url: string;
  kubeconfigPath: string;
  kubeconfig: KubeconfigDocument;
  /** The context of the user who may not exec into pods or touch secrets. */
  restrictedContext: string;
  /** Checks that Pod Runner left no pod, secret or service behind, then releases the back end. */
  verifyNoLeaks(): Promise<void>;
}

export type EmulatorBackend = TestBackend & { kind: 'emulator'; emulator: RunningEmulator };

/** The emulator of an emulator-only test (its fault injection); fails on the cluster tier. */
export function emulatorOf(backend: TestBackend): RunningEmulator {
  assert.ok('emulator' in backend, 'this test needs the emulator (its fault injection)');
  return (backend as EmulatorBackend).emulator;
}

export async function withBackend(options: EmulatorOptions = {}): Promise<TestBackend> {
  const kubeconfigPath = process.env[clusterKubeconfigVariable];
  if (!kubeconfigPath) {
    const emulator = await withEmulator(options);
    const backend: EmulatorBackend = {
      kind: 'emulator',
      url: emulator.url,
      kubeconfigPath: emulator.kubeconfigPath,
      kubeconfig: emulator.kubeconfig,
      restrictedContext,
      emulator,
      verifyNoLeaks: () => emulator.verifyNoLeaks(),
    };
    return backend;
  }
  const kubeconfig = JSON.parse(readFileSync(kubeconfigPath, 'utf8')) as KubeconfigDocument;
  const backend: TestBackend = {
    kind: 'cluster',
    url: kubeconfig.clusters[0]!.cluster.server,
    kubeconfigPath,
    kubeconfig,
    restrictedContext: kubeconfig.contexts[1]!.name,
    async verifyNoLeaks() {
      // The cluster outlives the file; what the file's tests made must be gone once their grace
      // periods are over (the kubelet honours them, as the emulator does).
      const left = async () =>
        (
          await Promise.all(
            ['pods', 'secrets', 'services'].map(async (resource) =>
              (await managedNames(backend, resource)).map((name) => `${resource}/${name}`),
            ),
          )
        ).flat();
      await eventually(async () => (await left()).length === 0, 60_000, 'cleanup').catch(
        () => undefined,
      );
      assert.deepEqual(await left(), [], "Pod Runner's objects were left in the cluster");
    },
  };
  return backend;
}
