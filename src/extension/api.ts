import type * as vscode from 'vscode';
import type { CommandLineCodeResult } from '../core/index.ts';
import type { Ctx } from './ctx.ts';
import { runInPod } from './runInPod.ts';
import { podRunnerStatus, type PodRunnerStatus } from './statusBar.ts';

/** What `activate` returns: other extensions (and the tests) run code in the pod through it. */
export interface PodRunnerApi {
  runCode(
    language: string,
    code: string,
    options?: { signal?: AbortSignal },
  ): Promise<CommandLineCodeResult>;
  /** Text written to the "Pod Runner: Output" channel, as it is written. */
  onDidWriteOutput: vscode.Event<string>;
  executorPodName(): string | undefined;
  kernelPodName(): string | undefined;
  /** The pods' states and the status-bar text. */
  status(): PodRunnerStatus;
  stopPods(): Promise<void>;
}

export function podRunnerApi(ctx: Ctx): PodRunnerApi {
  return {
    runCode: (language, code, options) =>
      runInPod(ctx, { language, code, label: 'API call' }, options?.signal),
    onDidWriteOutput: ctx.output.onDidWrite,
    executorPodName: () => ctx.executor.podName,
    kernelPodName: () => ctx.kernels.podName,
    status: () => podRunnerStatus(ctx),
    stopPods: () => ctx.stopPods(true),
  };
}
