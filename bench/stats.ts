import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Timing helpers: every figure is a median over repetitions taken after a warm-up. */

export interface Repetitions {
  warmup: number;
  reps: number;
}

export function median(values: number[]): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs `action` warmup + reps times, one after another; returns the reps' wall times in ms. */
export async function timeRepeated(
  { warmup, reps }: Repetitions,
  action: (index: number) => Promise<void>,
): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < warmup + reps; index++) {
    const started = performance.now();
    await action(index);
    if (index >= warmup) {
      samples.push(performance.now() - started);
    }
  }
  return samples;
}

/** Samples this process's RSS while `action` runs; resolves with the action's result and the peak. */
export async function withPeakRss<T>(
  action: () => Promise<T>,
): Promise<{ result: T; baselineBytes: number; peakBytes: number }> {
  global.gc?.();
  const baselineBytes = process.memoryUsage.rss();
  let peakBytes = baselineBytes;
  const timer = setInterval(() => (peakBytes = Math.max(peakBytes, process.memoryUsage.rss())), 10);
  try {
    const result = await action();
    peakBytes = Math.max(peakBytes, process.memoryUsage.rss());
    return { result, baselineBytes, peakBytes };
  } finally {
    clearInterval(timer);
  }
}

export const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;

/** Runs a Python peer from bench/peers with Debian's python3; it prints its samples (ms) as JSON. */
export async function pythonPeerSamples(
  script: string,
  args: (string | number)[],
): Promise<number[]> {
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [
    join(__dirname, 'peers', script),
    ...args.map(String),
  ]);
  return JSON.parse(stdout) as number[];
}
