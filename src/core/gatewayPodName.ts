import { randomUUID } from 'node:crypto';
import { OptionError } from './errors.ts';
import type { PodJupyterServerOptions } from './podJupyterServer.ts';
import { loadSpec, type JsonObject } from './specLoader.ts';

/** The gateway's pod name: the podSpec's metadata.name, the podName option, or a fresh one. */
export function resolvePodName(
  options: Pick<PodJupyterServerOptions, 'podSpec' | 'podName'>,
): string {
  const specMetadata =
    options.podSpec === undefined
      ? undefined
      : (loadSpec(options.podSpec, 'Pod', 'podSpec').spec.metadata as JsonObject | undefined);
  const specName = typeof specMetadata?.name === 'string' ? specMetadata.name : undefined;
  if (specName !== undefined && options.podName !== undefined && specName !== options.podName) {
    throw new OptionError(
      'podName',
      `"${options.podName}" differs from the podSpec's metadata.name "${specName}": give one name`,
    );
  }
  const name = specName ?? options.podName ?? `autogen-jupyter-${randomUUID()}`;
  if (!/^[a-z0-9]([-a-z0-9]{0,54}[a-z0-9])?$/.test(name)) {
    throw new OptionError(
      'podName',
      `"${name}" is not valid: use at most 56 lower-case letters, digits and '-', starting and ending with a letter or digit`,
    );
  }
  return name;
}
