/** A pod that can tell whether it ended (an idle stop, decided in the pod) and delete itself. */
interface EndablePod {
  removeIfEnded(): Promise<string | undefined>;
}

/**
 * When a session's pod was last used, and the look taken before the next use: a pod unused for
 * its idle timeout may have stopped by itself, so it is looked at first (one API call) and, if it
 * stopped, deleted; the use then starts a fresh pod.
 */
export class IdleStopCheck {
  private lastUsed = 0;

  /** A use of the pod just ended. */
  used(): void {
    this.lastUsed = Date.now();
  }

  /** Why the pod stopped by itself (it is deleted then), when it was unused for `idleMs`. */
  async stoppedSinceUse(pod: EndablePod | undefined, idleMs: number): Promise<string | undefined> {
    if (!pod || idleMs <= 0 || Date.now() - this.lastUsed < idleMs) {
      return undefined;
    }
    return pod.removeIfEnded().catch(() => undefined);
  }
}
