import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as vscode from 'vscode';

const run = promisify(execFile);

/** What the gateway pod's own API lists under /api/kernels, as it prints it (JSON). */
export async function gatewayKernelListing(kubeconfig: string, pod: string): Promise<string> {
  const { stdout } = await run('kubectl', [
    '--kubeconfig',
    kubeconfig,
    'exec',
    pod,
    '--',
    'python3',
    '-c',
    'import os, urllib.request as u; print(u.urlopen(u.Request("http://127.0.0.1:%s/api/kernels" % os.environ["KG_PORT"], headers={"Authorization": "token " + os.environ["KG_AUTH_TOKEN"]})).read().decode())',
  ]);
  return stdout;
}

/** The ids of the kernels the gateway pod runs, with the window's kubeconfig. */
export async function gatewayKernels(pod: string): Promise<string[]> {
  const kubeconfig = vscode.workspace.getConfiguration('podRunner').get<string>('kubeconfig')!;
  const kernels = JSON.parse(await gatewayKernelListing(kubeconfig, pod)) as { id: string }[];
  return kernels.map((kernel) => kernel.id);
}
