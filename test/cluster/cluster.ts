import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKubernetesBinaries } from './binaries.ts';
import {
  createDefaultStorageClass,
  grantRestrictedUser,
  labelControlPlaneNode,
  serviceIp,
  startApiserver,
  startControllerManager,
  startEtcd,
  startScheduler,
  waitForNodeReady,
  type ControlPlaneOptions,
} from './controlPlane.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { createPki, restrictedUserName } from './pki.ts';
import type { ManagedProcess } from './processes.ts';
import { ensureLocalImages } from './images.ts';
import { startLocalRegistry } from './registry.ts';
import { startNode } from './node.ts';
import { listHostPathVolumes, removeNewHostPathVolumes } from './hostState.ts';

export const nodeName = 'pod-runner-node';
export const adminContext = 'pod-runner-admin';
export const restrictedContext = 'pod-runner-restricted';

export interface RunningCluster {
  server: string;
  clusterDir: string;
  stop(): Promise<void>;
}

/**
 * Starts the cluster layer by layer. If a layer fails, whatever already started is stopped
 * before the error is thrown.
 */
export async function startCluster(
  kubeconfigPath: string,
  log: (line: string) => void,
  withNode = true,
): Promise<RunningCluster> {
  const binDir = await ensureKubernetesBinaries(log);
  const clusterDir = await mkdtemp(join(tmpdir(), 'pod-runner-cluster-'));
  const processes: ManagedProcess[] = [];
  const undoOnStop: (() => Promise<void>)[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      // Reverse start order: clients before the apiserver, the apiserver before etcd.
      for (const process of processes.reverse()) {
        await process.stop();
      }
      // Host state is cleaned once nothing that could recreate it is running.
      const failures: string[] = [];
      for (const undo of undoOnStop.reverse()) {
        await undo().catch((error: unknown) => failures.push(String(error)));
      }
      await rm(clusterDir, { recursive: true, force: true });
      await rm(kubeconfigPath, { force: true });
      if (failures.length > 0) {
        throw new Error(`cleanup incomplete: ${failures.join('; ')}`);
      }
    })();
    return stopped;
  };
  try {
    const pki = await createPki(join(clusterDir, 'pki'), serviceIp, nodeName);
    const options: ControlPlaneOptions = {
      binDir,
      clusterDir,
      pki,
      track: (process) => processes.push(process),
      log,
    };
    const etcdUrl = await startEtcd(options);
    const server = await startApiserver(options, etcdUrl);
    const volumesBefore = listHostPathVolumes();
    undoOnStop.push(() => removeNewHostPathVolumes(volumesBefore));
    await startControllerManager(options, server);
    await grantRestrictedUser(server, pki);
    await createDefaultStorageClass(server, pki);
    await writeKubeconfig(kubeconfigPath, server, pki.caCert, [
      { context: adminContext, user: 'pod-runner-admin', token: pki.tokens.admin },
      { context: restrictedContext, user: restrictedUserName, token: pki.tokens.restricted },
    ]);
    log(`kubeconfig written: ${kubeconfigPath} (contexts ${adminContext}, ${restrictedContext})`);
    await startScheduler(options, server);
    if (!withNode) {
      return { server, clusterDir, stop };
    }
    const images = await ensureLocalImages(log);
    const registry = await startLocalRegistry(images.blobDir, images.tags);
    undoOnStop.push(() => registry.close());
    log(`image registry at ${registry.url}`);
    await startNode({
      ...options,
      server,
      nodeName,
      registryUrl: registry.url,
      onStop: (undo) => undoOnStop.push(undo),
    });
    await waitForNodeReady(server, pki, nodeName);
    await labelControlPlaneNode(server, pki, nodeName);
    log(`node ${nodeName} Ready`);
    return { server, clusterDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
