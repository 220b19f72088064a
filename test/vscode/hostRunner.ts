import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { repoRoot, type RunningCodeServer } from './codeServer.ts';

export const chromiumPath = '/usr/bin/chromium';

/** Bundles a tests entry point (with `run()`) for the extension host: CommonJS, `vscode` external. */
export async function bundleHostTests(entry: string, outfile: string): Promise<string> {
  await promisify(execFile)(
    'npx',
    [
      'esbuild',
      entry,
      '--bundle',
      '--platform=node',
      '--format=cjs',
      '--target=node20',
      '--external:vscode',
      `--outfile=${outfile}`,
    ],
    { cwd: repoRoot },
  );
  return outfile;
}

/**
 * Runs extension tests in code-server's real extension host: a headless Chromium opens the
 * workbench with the extensionDevelopmentPath/extensionTestsPath payload, and the tests' exit code
 * comes back through `window.codeAutomationExit`, as with VS Code's own test runner.
 */
export async function runTestsInHost(
  server: RunningCodeServer,
  options: {
    workspace: string;
    extensionPath: string;
    testsPath: string;
    timeoutMs: number;
    screenshot?: string;
  },
): Promise<number> {
  const profile = await mkdtemp(join(tmpdir(), 'pod-runner-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    let resolveExit: (code: number) => void = () => undefined;
    const exit = new Promise<number>((done) => (resolveExit = done));
    await page.exposeFunction('codeAutomationExit', (code: number) => resolveExit(code));
    const authority = `127.0.0.1:${server.port}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', `vscode-remote://${authority}${options.extensionPath}`],
      ['extensionTestsPath', `vscode-remote://${authority}${options.testsPath}`],
      ['skipWelcome', 'true'],
    ]);
    await page.goto(
      `${server.url}/?folder=${encodeURIComponent(options.workspace)}&payload=${encodeURIComponent(payload)}`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>(
      (done) => (timer = setTimeout(() => done(-1), options.timeoutMs)),
    );
    const code = await Promise.race([exit, timeout]);
    clearTimeout(timer);
    if (options.screenshot) {
      await page.screenshot({ path: options.screenshot }).catch(() => undefined);
    }
    return code;
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}
