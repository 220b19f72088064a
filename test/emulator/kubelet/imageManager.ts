import { backoffDelay, sleep } from './backoff.ts';
import type { ContainerSlot, PodReporter } from './containerSlot.ts';
import type { ImageCatalog, ImageDefinition } from './imageCatalog.ts';
import { text } from '../jsonValues.ts';

/**
 * The kubelet's image manager: which images the node has, pulls with back-off, and the pull
 * policies (Always, IfNotPresent, Never), with the kubelet's events and waiting reasons.
 */
export class ImageManager {
  private readonly present = new Set<string>();

  constructor(
    private readonly catalog: ImageCatalog,
    private readonly backoffBaseMs: number,
  ) {}

  /** Pulls the slot's image, retrying until it resolves or `signal` aborts the pod. */
  async pull(
    slot: ContainerSlot,
    reporter: PodReporter,
    signal: AbortSignal,
  ): Promise<ImageDefinition> {
    const reference = String(slot.spec.image);
    const policy = text(slot.spec.imagePullPolicy, 'IfNotPresent');
    for (let failures = 0; ; failures++) {
      signal.throwIfAborted();
      const resolution = this.catalog.resolve(reference);
      if (resolution.ok && policy !== 'Always' && this.present.has(reference)) {
        reporter.event(
          'Normal',
          'Pulled',
          `Container image "${reference}" already present on machine`,
          slot,
        );
        return resolution.image;
      }
      if (policy === 'Never') {
        const message = `Container image "${reference}" is not present with pull policy of Never`;
        slot.state = { waiting: { reason: 'ErrImageNeverPull', message } };
        reporter.event('Warning', 'ErrImageNeverPull', message, slot);
        reporter.publish();
        await sleep(this.backoffBaseMs, signal);
        continue;
      }
      reporter.event('Normal', 'Pulling', `Pulling image "${reference}"`, slot);
      const started = Date.now();
      await sleep(resolution.ok ? (resolution.image.pullDelayMs ?? 0) : 0, signal);
      const failure = resolution.ok ? await pullContents(resolution.image) : resolution.reason;
      if (resolution.ok && failure === undefined) {
        this.present.add(reference);
        const took = `${Date.now() - started}ms`;
        reporter.event(
          'Normal',
          'Pulled',
          `Successfully pulled image "${reference}" in ${took} (${took} including waiting). Image size: 0 bytes.`,
          slot,
        );
        return resolution.image;
      }
      reporter.event('Warning', 'Failed', `Failed to pull image "${reference}": ${failure}`, slot);
      reporter.event('Warning', 'Failed', 'Error: ErrImagePull', slot);
      slot.state = { waiting: { reason: 'ErrImagePull', message: failure } };
      reporter.publish();
      await sleep(Math.min(1000, this.backoffBaseMs), signal);
      const message = `Back-off pulling image "${reference}"`;
      slot.state = { waiting: { reason: 'ImagePullBackOff', message } };
      reporter.event('Normal', 'BackOff', message, slot);
      reporter.event('Warning', 'Failed', 'Error: ImagePullBackOff', slot);
      reporter.publish();
      await sleep(backoffDelay(this.backoffBaseMs, failures), signal);
    }
  }
}

/** Makes the image's own files; why that failed, if it did. */
async function pullContents(image: ImageDefinition): Promise<string | undefined> {
  try {
    await image.contents?.pull();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
