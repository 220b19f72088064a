import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { eventually, requireTool, sandboxProcesses } from '../support/emulatorFixture.ts';
import { repoRoot } from './codeServer.ts';
import { startDemoSession, type DemoSession } from './demoSession.ts';
import { chromiumPath } from './hostRunner.ts';

const browserAvailable = existsSync(chromiumPath) && existsSync('/usr/bin/rg');
const screenshotDir = join(repoRoot, 'out', 'screenshots');
/** With POD_RUNNER_UPDATE_SCREENSHOTS=1 the README's screenshots in media/ are replaced. */
const updateReadmeScreenshots = process.env.POD_RUNNER_UPDATE_SCREENSHOTS === '1';

async function saveScreenshot(page: Page, name: string): Promise<void> {
  await mkdir(screenshotDir, { recursive: true });
  const path = join(screenshotDir, name);
  await page.screenshot({ path });
  if (updateReadmeScreenshots) {
    await copyFile(path, join(repoRoot, 'media', name));
  }
}

/** The webview frame whose document has an element matching `selector`, once there is one. */
async function frameWith(page: Page, selector: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.$(selector).catch(() => null)) {
        return frame;
      }
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no frame showed ${selector} within ${timeoutMs} ms`);
}

/** The webview frame whose text matches `pattern`, once one does; resolves to that text. */
async function frameText(page: Page, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const text = await frame
        .locator('body')
        .innerText({ timeout: 1000 })
        .catch(() => '');
      if (pattern.test(text)) {
        return text;
      }
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no frame showed ${pattern} within ${timeoutMs} ms`);
}

/** Runs a command through the command palette, opened from the title bar's command center. */
async function runCommand(page: Page, title: string): Promise<void> {
  await page.locator('.command-center-center').click();
  const input = page.locator('.quick-input-widget input');
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().click();
}

/** Opens a file of the workspace with Quick Open. */
async function openFile(page: Page, path: string): Promise<void> {
  await page.locator('.command-center-center').click();
  await page.locator('.quick-input-widget input').fill(path);
  await page
    .locator('.quick-input-widget .monaco-list-row', { hasText: path.split('/').at(-1)! })
    .first()
    .click();
  await page.locator('.tab.active', { hasText: path.split('/').at(-1)! }).waitFor();
}

/** Runs a browser step; on failure the page is saved next to the screenshots, to see why. */
async function step(page: Page, name: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    await mkdir(screenshotDir, { recursive: true });
    await page
      .screenshot({ path: join(screenshotDir, `failed-${name}.png`) })
      .catch(() => undefined);
    throw error;
  }
}

describe('npm start in a browser: the packaged extension in code-server on the emulator', () => {
  let session: DemoSession | undefined;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    if (!browserAvailable) {
      return;
    }
    session = await startDemoSession(() => undefined);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    // Tall enough that the whole sample notebook, plot included, is on screen.
    page = await browser.newPage({ viewport: { width: 1400, height: 1250 } });
    await page.goto(session.url);
    await page.waitForSelector('.monaco-workbench .part.statusbar', { timeout: 90_000 });
  });

  after(async () => {
    await browser?.close();
    if (session) {
      const workDir = session.emulator.stateDirectory;
      await session.stop();
      assert.deepEqual(sandboxProcesses(workDir), [], 'stopping the demo stops every pod');
    }
  });

  test('Run All on the sample notebook draws the plot from a kernel pod', async (t) => {
    if (!requireTool(t, browserAvailable, 'Debian chromium and ripgrep (for code-server)')) {
      return;
    }
    await step(page, 'open-notebook', async () => {
      // Until the built-in ipynb extension has started, a notebook opens as JSON text: reopen.
      for (let attempt = 1; ; attempt++) {
        await page.getByRole('treeitem', { name: 'plot.ipynb' }).dblclick();
        const selectKernel = page.getByRole('button', { name: /Select Kernel/ });
        try {
          await selectKernel.waitFor({ timeout: 10_000 });
          await selectKernel.click();
          break;
        } catch (error) {
          if (attempt === 3) {
            throw error;
          }
          await runCommand(page, 'View: Close All Editors');
        }
      }
    });
    await step(page, 'select-kernel', async () => {
      await page.getByRole('option', { name: /Pod Runner/ }).click();
      await page.getByRole('option', { name: /Kubernetes kernel/ }).click();
      await page
        .getByRole('button', { name: /Run All/ })
        .first()
        .click();
    });

    const outputs = await frameWith(page, 'img', 180_000);
    // Runs in the page: the element is an HTMLImageElement (this project has no DOM types).
    const image = await outputs.$eval('img', (element) => {
      const img = element as unknown as { naturalWidth: number; naturalHeight: number };
      return { width: img.naturalWidth, height: img.naturalHeight };
    });
    assert.ok(image.width >= 200 && image.height >= 150, `the plot: ${JSON.stringify(image)}`);
    assert.match(
      await outputs.locator('body').innerText(),
      /\[3\.14, 12\.57, 28\.27, 50\.27\]/,
      'the state of cell 1 reached cell 2',
    );
    await page.locator('.statusbar-item', { hasText: 'kernel ready' }).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await saveScreenshot(page, 'notebook.png');
  });

  test('Run File in Pod streams the output into the output channel', async (t) => {
    if (!requireTool(t, browserAvailable, 'Debian chromium and ripgrep (for code-server)')) {
      return;
    }
    await page.getByRole('treeitem', { name: 'hello.py' }).dblclick();
    await page.locator('.monaco-editor .view-lines', { hasText: 'platform' }).first().click();
    await runCommand(page, 'Pod Runner: Run File in Pod');
    const output = page.locator('.panel .view-lines', {
      hasText: 'Hello from pod autogen-code-exec-',
    });
    await output.waitFor({ timeout: 120_000 });
    await page.locator('.panel .view-lines', { hasText: 'exit code 0' }).waitFor();
    await page.waitForTimeout(500);
    await saveScreenshot(page, 'run-file.png');
  });

  test('Run File on the sample project: app/main.py imports its package and reads its data in the pod', async (t) => {
    if (!requireTool(t, browserAvailable, 'Debian chromium and ripgrep (for code-server)')) {
      return;
    }
    await openFile(page, 'app/main.py');
    await runCommand(page, 'Pod Runner: Run File in Pod');
    await page
      .locator('.panel .view-lines', { hasText: '3 orders, total 5.00' })
      .waitFor({ timeout: 120_000 });
  });

  test("Run All on the sample project's notebook: the kernel runs in its folder, the package importable", async (t) => {
    if (!requireTool(t, browserAvailable, 'Debian chromium and ripgrep (for code-server)')) {
      return;
    }
    await step(page, 'project-notebook', async () => {
      await openFile(page, 'notebooks/orders.ipynb');
      await page.getByRole('button', { name: /Select Kernel/ }).click();
      // The kernel the first notebook chose is offered first.
      await page
        .locator('.quick-input-widget')
        .getByRole('option', { name: /Kubernetes kernel/ })
        .click();
      await page
        .getByRole('button', { name: /Run All/ })
        .first()
        .click();
      // Cell 1 imports app.util and reads ../data/input.csv; cell 2 totals what it read.
      const text = await frameText(page, /\('plums', 10, 0\.2\)\][\s\S]*\b5\.0\b/, 180_000);
      assert.match(text, /\[\('apples', 3, 0\.5\), \('pears', 2, 0\.75\), \('plums', 10, 0\.2\)\]/);
    });
  });

  test('a traceback in the output names the local files, and Ctrl+click opens one at its line', async (t) => {
    if (!requireTool(t, browserAvailable, 'Debian chromium and ripgrep (for code-server)')) {
      return;
    }
    await openFile(page, 'app/bad_row.py');
    await runCommand(page, 'Pod Runner: Run File in Pod');
    const util = join(session!.workspace, 'app', 'util.py');
    const line = page.locator('.panel .view-line', { hasText: `File "${util}", line 7` });
    await line.waitFor({ timeout: 120_000 });
    await page.locator('.panel .view-lines', { hasText: 'exit code 1' }).waitFor();
    // Held Ctrl shows the link under the pointer, as a user sees it before the click.
    const link = line.locator('.detected-link').first();
    await link.waitFor({ timeout: 10_000 });
    await page.keyboard.down('Control');
    await link.hover();
    // Under the held Ctrl the link's class becomes detected-link-active.
    const active = page.locator('.panel .detected-link-active').first();
    await active.waitFor({ timeout: 10_000 });
    await page.waitForTimeout(1000);
    await saveScreenshot(page, 'traceback.png');
    await active.click();
    await page.keyboard.up('Control');
    await page.locator('.tab.active', { hasText: 'util.py' }).waitFor({ timeout: 10_000 });
    await page.locator('.statusbar-item', { hasText: 'Ln 7, Col 1' }).waitFor({ timeout: 10_000 });
  });

  test('Stop Executor Pod and Stop Kernel Pod delete every pod, secret and service the session made', async (t) => {
    if (!requireTool(t, browserAvailable, 'Debian chromium and ripgrep (for code-server)')) {
      return;
    }
    const emulator = session!.emulator;
    const made = emulator.managedObjects();
    assert.equal(made.pods.length, 2, `an executor and a kernel pod: ${JSON.stringify(made)}`);
    await runCommand(page, 'Pod Runner: Stop Executor Pod');
    await runCommand(page, 'Pod Runner: Stop Kernel Pod');
    await page.locator('.statusbar-item', { hasText: 'no pods' }).waitFor({ timeout: 60_000 });
    await eventually(
      () => {
        const left = emulator.managedObjects();
        return left.pods.length + left.secrets.length + left.services.length === 0;
      },
      30_000,
      'the pods, the secret and the service to be deleted',
    );
  });
});
