import { KernelManager, ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';
import { PodJupyterCodeExecutor, PodJupyterServer } from '../src/core/index.ts';
import { startJupyterServer } from '../test/support/jupyterServer.ts';
import type { BenchRow } from './report.ts';
import { median, ms, pythonPeerSamples, timeRepeated, type Repetitions } from './stats.ts';

async function jupyterlabServices(baseUrl: string, token: string, reps: Repetitions) {
  const serverSettings = ServerConnection.makeSettings({
    baseUrl,
    wsUrl: baseUrl.replace(/^http/, 'ws'),
    token,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    fetch: globalThis.fetch,
    appendToken: true,
  });
  const manager = new KernelManager({ serverSettings });
  await manager.ready;
  const kernel = await manager.startNew({ name: 'python3' });
  try {
    return await timeRepeated(reps, async () => {
      let result: unknown;
      const future = kernel.requestExecute({ code: '1+1' });
      future.onIOPub = (message) => {
        if (message.header.msg_type === 'execute_result') {
          result = (message.content as { data: Record<string, unknown> }).data['text/plain'];
        }
      };
      await future.done;
      if (result !== '2') {
        throw new Error(`@jupyterlab/services got ${String(result)}`);
      }
    });
  } finally {
    await kernel.shutdown();
    manager.dispose();
  }
}

/**
 * P2 on the real Jupyter Server and through the real kernel gateway in a pod, with the direct-ZMQ
 * floor, and the gateway pod → first cell on the emulator.
 */
export async function kernelBench(options: {
  kubeconfig: string;
  quick: boolean;
  raw: Record<string, unknown>;
}): Promise<BenchRow[]> {
  const reps: Repetitions = options.quick ? { warmup: 2, reps: 10 } : { warmup: 10, reps: 100 };
  const server = await startJupyterServer();
  const rows: BenchRow[] = [];
  try {
    const baseUrl = `http://${server.info.host}:${server.info.port}`;
    const token = server.info.token ?? '';
    const executor = new PodJupyterCodeExecutor(server.info, { timeout: 60 });
    await executor.start();
    let ours: number[];
    try {
      ours = await cellRoundTrips(executor, reps);
    } finally {
      await executor.stop();
    }
    const services = await jupyterlabServices(baseUrl, token, reps);
    const client = await pythonPeerSamples('jupyter_client_ws.py', [
      baseUrl,
      token,
      reps.reps,
      reps.warmup,
    ]);
    options.raw.P2 = { ours, jupyterlabServices: services, jupyterClient: client };
    const [o, s, c] = [median(ours), median(services), median(client)];
    const faster = Math.min(s, c);
    rows.push({
      id: 'P2',
      what: 'notebook cell `1+1` round trip on one kernel (Jupyter Server)',
      ours: ms(o),
      peer: `@jupyterlab/services: ${ms(s)}; jupyter_client (Python): ${ms(c)}`,
      ratio: o / faster,
      target: '≤ 1.0× the faster peer',
      // Judged at the precision the table prints.
      met: Number((o / faster).toFixed(2)) <= 1,
    });
  } finally {
    await server.stop();
  }

  rows.push(...(await gatewayP2(options.kubeconfig, reps, options.raw)));

  const firstCell = await gatewayFirstCells(options.kubeconfig, options.quick ? 1 : 3);
  options.raw.gatewayFirstCell = firstCell;
  rows.push({
    id: '—',
    what: 'gateway pod create → first cell result (emulator, port-forward)',
    ours: ms(median(firstCell)),
    peer: '—',
    target: '—',
  });
  return rows;
}

/** Gateway pod create → the first `1+1` cell's result, `count` times (each pod stopped untimed). */
export async function gatewayFirstCells(kubeconfig: string, count: number): Promise<number[]> {
  const firstCell: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const gateway = new PodJupyterServer({ kubeconfig });
    try {
      await gateway.start();
      const kernel = new PodJupyterCodeExecutor(gateway, { timeout: 60 });
      await kernel.start();
      const result = await kernel.executeCodeBlocks([{ language: 'python', code: '1+1' }]);
      firstCell.push(performance.now() - started);
      if (result.output.trim() !== '2') {
        throw new Error(`first cell gave ${result.output}`);
      }
      await kernel.stop();
    } finally {
      await gateway.stop();
    }
  }
  return firstCell;
}

/** Runs `1+1` cells as `reps` says through an executor; their round trips. */
function cellRoundTrips(executor: PodJupyterCodeExecutor, reps: Repetitions): Promise<number[]> {
  return timeRepeated(reps, async () => {
    const result = await executor.executeCodeBlocks([{ language: 'python', code: '1+1' }]);
    if (result.output.trim() !== '2') {
      throw new Error(`P2 output: ${result.output}`);
    }
  });
}

/**
 * P2 through the real kernel gateway in a pod (port-forward), against the floor: jupyter_client
 * talking ZMQ straight to a kernel on this host, with no server or websocket in between.
 */
async function gatewayP2(
  kubeconfig: string,
  reps: Repetitions,
  raw: Record<string, unknown>,
): Promise<BenchRow[]> {
  const gateway = new PodJupyterServer({ kubeconfig });
  let ours: number[];
  try {
    await gateway.start();
    const executor = new PodJupyterCodeExecutor(gateway, { timeout: 60 });
    await executor.start();
    try {
      ours = await cellRoundTrips(executor, reps);
    } finally {
      await executor.stop();
    }
  } finally {
    await gateway.stop();
  }
  const direct = await pythonPeerSamples('jupyter_client_zmq.py', [reps.reps, reps.warmup]);
  raw.P2gateway = { ours, directZmq: direct };
  const [o, d] = [median(ours), median(direct)];
  return [
    {
      id: '—',
      what: 'kernel `1+1` round trip, jupyter_client over ZMQ straight to the kernel (no server)',
      ours: '—',
      peer: `jupyter_client (Python, ZMQ): ${ms(d)}`,
      target: '—',
    },
    {
      id: 'P2',
      what: 'notebook cell `1+1` round trip through the kernel gateway pod (emulator, port-forward)',
      ours: ms(o),
      peer: `direct ZMQ: ${ms(d)}`,
      ratio: o / d,
      target: '≤ 2× the direct-ZMQ round trip',
      met: Number((o / d).toFixed(2)) <= 2,
    },
  ];
}
