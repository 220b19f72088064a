const parentCheckMs = 500;

/**
 * Calls \`stop\` once this process's parent has gone (it was re-parented). \`npm run\` does not pass
 * SIGTERM on to its script, so a supervisor that stops npm would otherwise leave what the script
 * started running.
 */
export function onParentExit(stop: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      stop();
    }
  }, parentCheckMs);
  timer.unref();
}
