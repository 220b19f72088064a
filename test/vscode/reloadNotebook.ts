/** For the browser test's window reload: its notebook, and looks into the gateway pod. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RunningEmulator } from '../emulator/index.ts';
import { apiRequest } from '../support/emulatorFixture.ts';

const run = promisify(execFile);

/** Writes a notebook of Python code cells. */
async function writeNotebook(path: string, cells: string[]): Promise<void> {
  const notebook = {
    cells: cells.map((code) => ({
      cell_type: 'code',
      execution_count: null,
      metadata: {},
      outputs: [],
      source: code.split(/(?<=\n)/),
    })),
    metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  await writeFile(path, JSON.stringify(notebook, null, 1));
}

/** The reload test's notebook (in the workspace), and the prefix of the files its cell waits for. */
export const reloadNotebook = join('notebooks', 'reload.ipynb');
export const reloadMarker = `/tmp/pod-runner-reload-${Date.now()}`;

/** Defines x; then prints, waits, prints while no window is attached, waits, prints; then x + 1. */
function reloadNotebookCells(): string[] {
  const define = [
    'import os, time',
    'def wait_for(path):',
    '    while not os.path.exists(path):',
    '        time.sleep(0.05)',
    'x = 41',
  ];
  const running = [
    "print('tick', flush=True)",
    `wait_for('${reloadMarker}-detached')`,
    "print('kept', flush=True)",
    `open('${reloadMarker}-kept', 'w').close()`,
    `wait_for('${reloadMarker}-attached')`,
    "print('live')",
  ];
  return [define.join('\n'), running.join('\n'), 'print(x + 1)'];
}

export interface GatewayPod {
  namespace: string;
  name: string;
  uid: string;
}

/** The one gateway pod in the emulator, by name and uid (a pod made anew has another uid). */
export async function gatewayPod(emulator: RunningEmulator): Promise<GatewayPod> {
  const gateways = emulator
    .managedObjects()
    .pods.filter((pod) => pod.includes('/autogen-jupyter-'));
  assert.equal(gateways.length, 1, `one gateway pod: ${gateways.join(', ')}`);
  const [namespace, name] = gateways[0]!.split('/') as [string, string];
  const pod = (await apiRequest(emulator, 'GET', `/api/v1/namespaces/${namespace}/pods/${name}`))
    .body as { metadata: { uid: string } };
  return { namespace, name, uid: pod.metadata.uid };
}

/** Runs a command in the pod with kubectl exec; resolves to its standard output. */
export async function inPod(
  emulator: RunningEmulator,
  pod: GatewayPod,
  command: string[],
): Promise<string> {
  const kubectl = ['--kubeconfig', emulator.kubeconfigPath, '--namespace', pod.namespace];
  return (await run('kubectl', [...kubectl, 'exec', pod.name, '--', ...command])).stdout;
}

/** How many clients each kernel of the gateway has, as its server counts them (JSON). */
export async function kernelConnections(
  emulator: RunningEmulator,
  gateway: GatewayPod,
): Promise<string> {
  const listKernels = [
    'import json, os, urllib.request',
    "url = 'http://127.0.0.1:%s/api/kernels' % os.environ['KG_PORT']",
    "auth = {'Authorization': 'token ' + os.environ['KG_AUTH_TOKEN']}",
    'kernels = json.load(urllib.request.urlopen(urllib.request.Request(url, headers=auth)))',
    "print(json.dumps([kernel['connections'] for kernel in kernels]))",
  ].join('\n');
  return (await inPod(emulator, gateway, ['python3', '-c', listKernels])).trim();
}

/** Whether the emulator holds none of Pod Runner's pods, Secrets or Services. */
export function nothingLeft(emulator: RunningEmulator): boolean {
  const left = emulator.managedObjects();
  return left.pods.length + left.secrets.length + left.services.length === 0;
}

/** Writes the reload test's notebook into `workspace`. */
export async function writeReloadNotebook(workspace: string): Promise<void> {
  await writeNotebook(join(workspace, reloadNotebook), reloadNotebookCells());
}
