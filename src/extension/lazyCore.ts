/**
 * The core library's Kubernetes and Jupyter parts, loaded on first use. @kubernetes/client-node
 * takes about 100 ms to load, so activation does not pay for it; light modules (settings,
 * logger, errors) are imported directly where needed.
 */
export type Core = typeof import('../core/index.ts');

let core: Promise<Core> | undefined;

export function loadCore(): Promise<Core> {
  core ??= import('../core/index.ts');
  return core;
}
