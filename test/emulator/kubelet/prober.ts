import { join } from 'node:path';
import { sleep } from './backoff.ts';
import type { ContainerSlot, PodReporter } from './containerSlot.ts';
import { connectInSandbox, execInContainer } from './containerExec.ts';
import type { PodSandbox } from './sandbox.ts';

type Json = Record<string, unknown>;

export interface ProbeTarget {
  sandbox: PodSandbox | undefined;
  containerPid: number;
  env: Record<string, string>;
  helpersDir: string;
}

export interface ProbeOutcome {
  ok: boolean;
  message: string;
}

/** Runs one exec, httpGet or tcpSocket probe inside the pod, as the kubelet's prober does. */
export async function runProbe(probe: Json, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = Number(probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec) {
    const argv = ((probe.exec as Json).command as string[] | undefined) ?? [];
    if (!target.sandbox) {
      return { ok: false, message: 'pod sandbox is gone' };
    }
    const process = execInContainer({
      sandbox: target.sandbox,
      containerPid: target.containerPid,
      argv,
      env: target.env,
      tty: false,
    });
    process.stdin.end();
    let output = '';
    process.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    process.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const result = await withTimeout(process.done, timeoutMs);
    if (!result) {
      return {
        ok: false,
        message: `command timed out: "${argv.join(' ')}" timed out after ${timeoutMs / 1000}s`,
      };
    }
    return result.exitCode === 0
      ? { ok: true, message: output }
      : {
          ok: false,
          message: `command "${argv.join(' ')}" exited with ${result.exitCode}: ${output}`,
        };
  }
  const port = Number(((probe.httpGet ?? probe.tcpSocket) as Json | undefined)?.port);
  if (!target.sandbox || !Number.isInteger(port)) {
    return { ok: false, message: 'unsupported probe' };
  }
  // The kubelet dials the pod's IP (or the probe's host), from outside the pod: a server bound
  // to the pod's loopback only is never Ready.
  const handler = (probe.httpGet ?? probe.tcpSocket) as Json;
  const host = typeof handler.host === 'string' ? handler.host : target.sandbox.podIP;
  const bridge = connectInSandbox(target.sandbox, port, join(target.helpersDir, 'tcpBridge.py'), {
    host,
    checkOnly: !probe.httpGet,
  });
  let response = '';
  let error = '';
  bridge.stdout!.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
  bridge.stderr!.on('data', (chunk: Buffer) => (error += chunk.toString()));
  bridge.stdin!.on('error', () => undefined);
  if (probe.httpGet) {
    const httpGet = probe.httpGet as Json;
    const path = typeof httpGet.path === 'string' ? httpGet.path : '/';
    const headers = ((httpGet.httpHeaders as Json[] | undefined) ?? [])
      .map((h) => `${String(h.name)}: ${String(h.value)}\r\n`)
      .join('');
    bridge.stdin!.end(
      `GET ${path} HTTP/1.0\r\nHost: ${host}:${port}\r\nUser-Agent: kube-probe/1.32\r\n${headers}\r\n`,
    );
  } else {
    bridge.stdin!.end();
  }
  const code = await withTimeout(
    new Promise<number | null>((resolve) => bridge.once('close', resolve)),
    timeoutMs,
  );
  if (code === undefined) {
    bridge.kill('SIGKILL');
    return { ok: false, message: `Get "http://${host}:${port}": context deadline exceeded` };
  }
  if (code !== 0) {
    return {
      ok: false,
      message: error.trim() || `dial tcp ${host}:${port}: connect: connection refused`,
    };
  }
  if (!probe.httpGet) {
    return { ok: true, message: '' };
  }
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(response)?.[1]);
  return status >= 200 && status < 400
    ? { ok: true, message: '' }
    : {
        ok: false,
        message: `HTTP probe failed with statuscode: ${Number.isNaN(status) ? 'none' : status}`,
      };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>(
    (resolve) => (timer = setTimeout(() => resolve(undefined), ms)),
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ReadinessTarget {
  slot: ContainerSlot;
  /** The pod's sandbox now (it goes away when the pod stops). */
  sandbox: () => PodSandbox | undefined;
  helpersDir: string;
  reporter: PodReporter;
}

/**
 * Runs a container's readiness probe every period until `signal` aborts or the container exits,
 * flipping `slot.ready` after successThreshold successes or failureThreshold failures.
 */
export async function probeReadiness(
  probe: Json,
  target: ReadinessTarget,
  signal: AbortSignal,
): Promise<void> {
  const { slot, reporter } = target;
  const period = Number(probe.periodSeconds ?? 10) * 1000;
  const successThreshold = Number(probe.successThreshold ?? 1);
  const failureThreshold = Number(probe.failureThreshold ?? 3);
  let successes = 0;
  let failures = 0;
  await sleep(Number(probe.initialDelaySeconds ?? 0) * 1000, signal);
  while (!signal.aborted && slot.process) {
    const outcome = await runProbe(probe, {
      sandbox: target.sandbox(),
      containerPid: slot.process.pid,
      env: slot.env,
      helpersDir: target.helpersDir,
    });
    if (signal.aborted) {
      return;
    }
    if (outcome.ok) {
      failures = 0;
      if (++successes >= successThreshold && !slot.ready) {
        slot.ready = true;
        reporter.publish();
      }
    } else {
      successes = 0;
      reporter.event('Warning', 'Unhealthy', `Readiness probe failed: ${outcome.message}`, slot);
      if (++failures >= failureThreshold && slot.ready) {
        slot.ready = false;
        reporter.publish();
      }
    }
    await sleep(period, signal);
  }
}
