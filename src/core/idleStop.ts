import type { V1Pod } from '@kubernetes/client-node';
import { OptionError } from './errors.ts';
import type { Logger } from './logger.ts';
import { managedByLabel, managedByValue } from './podLabels.ts';
import type { PodLauncher, PodStartProgress } from './podLauncher.ts';

/**
 * Stopping idle pods is decided inside the pod, so it happens with the client gone (a closed
 * laptop, a crashed window): the executor's keep-alive and the gateway's supervisor exit once
 * nothing ran for the idle timeout, the pod ends Succeeded and its resources are released.
 */

/** What the settings and the executors use when no timeout is given. */
export const defaultIdleTimeoutMinutes = 60;

/**
 * The idle timeout in whole seconds (0: never stop). Minutes may be fractional so tests can use
 * a few seconds; anything above 0 is at least one second.
 */
export function idleTimeoutSeconds(
  minutes = defaultIdleTimeoutMinutes,
  option = 'idleTimeoutMinutes',
): number {
  if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 0) {
    throw new OptionError(option, `must be a number of minutes, 0 or more, got ${String(minutes)}`);
  }
  return minutes === 0 ? 0 : Math.max(1, Math.round(minutes * 60));
}

/** Why a pod is gone, as the next start tells it: "the pod stopped after 60 idle minutes". */
export function idleStopReason(seconds: number): string {
  const minutes = seconds / 60;
  const span = Number.isInteger(minutes)
    ? `${minutes} idle minute${minutes === 1 ? '' : 's'}`
    : `${seconds} idle second${seconds === 1 ? '' : 's'}`;
  return `the pod stopped after ${span}`;
}

/** How often the pod looks for activity: a tenth of the timeout, between 1 and 30 seconds. */
export function idleCheckSeconds(seconds: number): number {
  return Math.min(30, Math.max(1, Math.round(seconds / 10)));
}

/**
 * The executor's keep-alive: exits at once on SIGTERM (so deleting the pod takes seconds), and
 * with a timeout, exits 0 after that many seconds without activity. Activity is any process
 * started in the container since the last look (a run, a shell, a sync: /proc/loadavg names the
 * last pid the container's PID namespace handed out, and the loop itself only starts its
 * `sleep`) or any process still running (a long block), so nothing is written to the pod's
 * filesystem and a read-only root works. An image without `sleep` never stops when idle.
 */
export function keepAliveCommand(idleSeconds = 0): string[] {
  if (idleSeconds === 0) {
    return ['/bin/sh', '-c', "trap 'exit 0' TERM INT; while :; do sleep 5 & wait $!; done"];
  }
  const step = idleCheckSeconds(idleSeconds);
  const script = `trap 'exit 0' TERM INT
limit=$1; step=$2; idle=0
while :; do
  # Without a working sleep no time has passed: never count that as idle.
  sleep "$step" & wait $! || continue
  sleeper=$!; active=
  read -r _ _ _ _ last _ < /proc/loadavg
  [ "$last" = "$sleeper" ] || active=1
  for dir in /proc/[0-9]*; do
    [ -z "$active" ] || break
    pid=\${dir#/proc/}
    case $pid in 1 | $$ | "$sleeper") continue ;; esac
    read -r stat 2>/dev/null < "$dir/stat" || continue
    set -- \${stat##*) }
    [ "$1" = Z ] || active=1
  done
  if [ -n "$active" ]; then idle=0; else idle=$((idle + step)); fi
  if [ "$idle" -ge "$limit" ]; then
    echo "pod-runner: nothing ran for $limit seconds; stopping the pod"
    exit 0
  fi
done`;
  return ['/bin/sh', '-c', script, 'pod-runner-keep-alive', String(idleSeconds), String(step)];
}

/**
 * Why a pod of ours is no longer running, or undefined while it still is: the idle stop when the
 * keep-alive (or the gateway's supervisor) ended it cleanly, else its phase and reason.
 */
export function endedPodReason(pod: V1Pod, idleSeconds: number): string | undefined {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' && idleSeconds > 0) {
    return idleStopReason(idleSeconds);
  }
  if (phase === 'Succeeded' || phase === 'Failed') {
    const reason = pod.status?.reason;
    return `the pod ended (${phase}${reason ? `: ${reason}` : ''})`;
  }
  return undefined;
}

/** A pod of ours, as the executor or the gateway server sees it. */
export interface OwnPod {
  launcher: PodLauncher;
  name: string;
  idleSeconds: number;
  logger: Logger;
}

/**
 * The pod named `pod.name` when it exists, except one of ours that ended (stopped when idle): that
 * one is deleted, the reason logged and reported as progress, and undefined returned.
 */
export async function findReplacingEnded(
  pod: OwnPod,
  onProgress?: (progress: PodStartProgress) => void,
): Promise<V1Pod | undefined> {
  const existing = await pod.launcher.find(pod.name);
  const reason = existing && endedPodReason(existing, pod.idleSeconds);
  if (!reason || existing.metadata?.labels?.[managedByLabel] !== managedByValue) {
    return existing;
  }
  pod.logger.info(`${reason}: replacing pod ${pod.name}`);
  onProgress?.({ phase: 'Replacing', message: reason });
  await pod.launcher.deleteAndWait(pod.name);
  return undefined;
}

/**
 * Why the pod ended by itself (stopped when idle), after `remove` deleted it; undefined while it
 * runs, or when its state cannot be read.
 */
export async function removeIfEnded(
  pod: OwnPod,
  remove: () => Promise<void>,
): Promise<string | undefined> {
  const state = await pod.launcher.find(pod.name).catch(() => undefined);
  const reason = state && endedPodReason(state, pod.idleSeconds);
  if (reason) {
    pod.logger.info(`${reason}: deleting pod ${pod.name}`);
    await remove();
  }
  return reason;
}

/** How long the gateway's own shutdown may take before the supervisor kills it. */
export const gatewayKillAfterSeconds = 25;

/**
 * Runs the gateway (argv: limit, step, the gateway's command) and stops it once no kernel ran
 * anything for \`limit\` seconds: a busy or starting kernel is activity, an idle one's
 * last_activity says when it last was (remembered, so a kernel the gateway culled still counts
 * until then); a gateway that does not answer counts as active, never as idle. SIGTERM goes to
 * the gateway; after an idle stop the exit is 0, so the pod ends Succeeded. The gateway's
 * handler logs, and a SIGTERM that lands while it writes a log line is lost (the log write
 * raises inside the handler), so the signal is sent again each second until the gateway exits,
 * and once its shutdown had gatewayKillAfterSeconds it is killed.
 */
export const gatewaySupervisorScript = `import json, os, signal, subprocess, sys, time, urllib.request
from datetime import datetime

limit, step = int(sys.argv[1]), int(sys.argv[2])
gateway = subprocess.Popen(sys.argv[3:])
kernels_url = "http://127.0.0.1:%s/api/kernels" % os.environ.get("KG_PORT", "8888")
headers = {"Authorization": "token " + os.environ.get("KG_AUTH_TOKEN", "")}
last_active = time.time()
idle_stop = False
stop_asked = None

def stop_gateway():
    global stop_asked
    stop_asked = stop_asked or time.time()
    gateway.terminate()

signal.signal(signal.SIGTERM, lambda *_: stop_gateway())
next_look = time.time() + step
while True:
    # A second at a time, so a stop asked meanwhile (pod deletion) is followed up at once.
    try:
        code = gateway.wait(timeout=1)
        sys.exit(0 if idle_stop else code if code >= 0 else 128 - code)
    except subprocess.TimeoutExpired:
        pass
    if stop_asked is not None:
        if time.time() - stop_asked >= ${gatewayKillAfterSeconds}:
            gateway.kill()
        else:
            gateway.terminate()
        continue
    if time.time() < next_look:
        continue
    next_look = time.time() + step
    try:
        request = urllib.request.Request(kernels_url, headers=headers)
        kernels = json.load(urllib.request.urlopen(request, timeout=10))
    except Exception:
        last_active = time.time()
        continue
    for kernel in kernels:
        if kernel.get("execution_state") in ("busy", "starting", "restarting"):
            last_active = time.time()
        elif kernel.get("last_activity"):
            seen = datetime.fromisoformat(kernel["last_activity"].replace("Z", "+00:00"))
            last_active = max(last_active, seen.timestamp())
    if time.time() - last_active >= limit:
        print("pod-runner: no kernel ran anything for %d seconds; stopping the gateway" % limit, flush=True)
        idle_stop = True
        stop_gateway()
`;
