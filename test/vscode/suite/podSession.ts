import * as vscode from 'vscode';
import type { StartOptions } from '../../../src/core/index.ts';
import { PodSession, type SessionPod } from '../../../src/extension/podSession.ts';
import { check, withTimeout, type HostFeature } from './host.ts';

/** A promise the test settles, so each step happens at the point the test chooses. */
function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Lets every pending promise callback run (one turn of the event loop; no timer). */
const settle = () => new Promise((done) => setImmediate(done));

/** A pod whose start ends when the test says so (or fails when its start is cancelled). */
class GatedPod implements SessionPod {
  private readonly gate = deferred();

  constructor(readonly podName: string) {}

  start(options: StartOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      void this.gate.promise.then(resolve);
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason as Error));
    });
  }

  finishStart(): void {
    this.gate.resolve();
  }
}

/** A session over gated pods (real progress notifications, no cluster), and the pods it made. */
function gatedSession(): { session: PodSession<GatedPod>; pods: GatedPod[] } {
  const pods: GatedPod[] = [];
  const session = new PodSession<GatedPod>({
    kind: 'test pod',
    create: () => {
      const pod = new GatedPod(`gated-${pods.length + 1}`);
      pods.push(pod);
      return Promise.resolve(pod);
    },
    afterStart: () => undefined,
  });
  return { session, pods };
}

async function startedSession(): Promise<{ session: PodSession<GatedPod>; pods: GatedPod[] }> {
  const gated = gatedSession();
  const starting = gated.session.ensureStarted();
  gated.pods[0]?.finishStart();
  await starting;
  return gated;
}

export const podSessionFeature: HostFeature = {
  feature: 'pod sessions',
  tests: [
    {
      name: 'two closes at once release the pod once, and neither ends before it is released',
      run: async () => {
        const { session } = await startedSession();
        const released: string[] = [];
        const order: string[] = [];
        const releaseGate = deferred();
        const release = async (pod: GatedPod) => {
          released.push(pod.podName);
          await releaseGate.promise;
          order.push('released');
        };
        const first = session.close(release).then(() => order.push('first close ended'));
        const second = session.close(release).then(() => order.push('second close ended'));
        await settle();
        releaseGate.resolve();
        await Promise.all([first, second]);
        check(released.join() === 'gated-1', `released: ${released.join()}`);
        check(order[0] === 'released', `order: ${order.join(', ')}`);
        check(session.status.state === 'none', `state ${session.status.state}`);
        session.dispose();
      },
    },
    {
      name: 'a start during a slow close leaves the new pod running and the state ready',
      run: async () => {
        const { session, pods } = await startedSession();
        const releaseGate = deferred();
        const closing = session.close(() => releaseGate.promise);
        const next = session.ensureStarted();
        await settle();
        check(pods.length === 2, `the start during the close made a new pod: ${pods.length}`);
        pods[1]?.finishStart();
        const pod = await next;
        releaseGate.resolve();
        await closing;
        check(session.running === pod, `running: ${session.running?.podName}`);
        check(session.status.state === 'ready', `state ${session.status.state}`);
        session.dispose();
      },
    },
    {
      name: 'a run on a pod closed meanwhile does not make the session busy',
      run: async () => {
        const { session, pods } = await startedSession();
        const pod = pods[0]!;
        await session.close(() => Promise.resolve());
        let during: string | undefined;
        await session.use(pod, () => {
          during = session.status.state;
          return Promise.resolve();
        });
        check(during === 'none', `state during the run ${String(during)}`);
        check(session.status.state === 'none', `state after the run ${session.status.state}`);
        check(!session.isBusy, 'the session counts no run');
        session.dispose();
      },
    },
    {
      name: 'a close during a restart wins: the restart starts no pod',
      run: async () => {
        const { session, pods } = await startedSession();
        const releaseGate = deferred();
        const restarting = session
          .replace(() => releaseGate.promise)
          .then(
            (pod) => `restarted with ${pod.podName}`,
            (error: Error) => error.name,
          );
        const stopping = session.close(() => Promise.resolve());
        releaseGate.resolve();
        check((await restarting) === 'AbortError', `the restart: ${await restarting}`);
        await stopping;
        await settle();
        check(pods.length === 1, `pods made: ${pods.map((pod) => pod.podName).join()}`);
        check(session.running === undefined, `running: ${session.running?.podName}`);
        check(session.status.state === 'none', `state ${session.status.state}`);
        session.dispose();
      },
    },
    {
      name: "Cancel on the start's progress notification: state none, not error, and what waits is cancelled",
      run: async () => {
        await vscode.commands.executeCommand('notifications.clearAll');
        const { session, pods } = gatedSession();
        let stops = 0;
        const listener = session.onDidStop(() => stops++);
        try {
          const starting = session.ensureStarted().then(
            () => 'started',
            (error: Error) => error.name,
          );
          // The progress notification is the newest once shown: its primary action is Cancel.
          let ended = false;
          void starting.then(() => (ended = true));
          for (let attempt = 0; attempt < 40 && !ended; attempt++) {
            await vscode.commands.executeCommand('notifications.focusToasts');
            await vscode.commands.executeCommand('notification.acceptPrimaryAction');
            await Promise.race([starting, new Promise((done) => setTimeout(done, 250))]);
          }
          const outcome = await withTimeout(starting, 1_000, 'the cancelled start to end');
          check(outcome === 'AbortError', `the waiting caller got ${outcome}`);
          check(session.status.state === 'none', `state ${session.status.state}`);
          check(stops === 1, `the session told ${stops} times that it stopped`);
        } finally {
          pods[0]?.finishStart();
          listener.dispose();
          session.dispose();
        }
      },
    },
  ],
};
