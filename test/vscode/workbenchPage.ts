import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';
import { repoRoot } from './codeServer.ts';

/** Where the browser test saves its screenshots, and the page of a step that failed. */
export const screenshotDir = join(repoRoot, 'out', 'screenshots');

/** The webview frame whose document has an element matching `selector`, once there is one. */
export async function frameWith(page: Page, selector: string, timeoutMs: number): Promise<Frame> {
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
export async function frameText(page: Page, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = [];
    for (const frame of page.frames()) {
      const text = await frame
        .locator('body')
        .innerText({ timeout: 1000 })
        .catch(() => '');
      if (pattern.test(text)) {
        return text;
      }
      seen.push(text);
    }
    await page.waitForTimeout(250);
  }
  const shown = seen.filter((text) => text.trim()).map((text) => JSON.stringify(text.slice(-300)));
  throw new Error(
    `no frame showed ${pattern} within ${timeoutMs} ms; they showed ${shown.join(', ')}`,
  );
}

/** Runs a command through the command palette, opened from the title bar's command center. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.locator('.command-center-center').click();
  const input = page.locator('.quick-input-widget input');
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().click();
}

/** Opens a file of the workspace with Quick Open. */
export async function openFile(page: Page, path: string): Promise<void> {
  await page.locator('.command-center-center').click();
  await page.locator('.quick-input-widget input').fill(path);
  await page
    .locator('.quick-input-widget .monaco-list-row', { hasText: path.split('/').at(-1)! })
    .first()
    .click();
  await page.locator('.tab.active', { hasText: path.split('/').at(-1)! }).waitFor();
}

/** Runs a browser step; on failure the page is saved next to the screenshots, to see why. */
export async function step(page: Page, name: string, action: () => Promise<void>): Promise<void> {
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

/** The open notebook's code cell whose source shows `text`. */
export function codeCell(page: Page, text: string): Locator {
  return page.locator('.notebookOverlay .code-cell-row', { hasText: text });
}

/** Runs the code cell showing `text` with the run button at its side, as a user does. */
export async function runCell(page: Page, text: string): Promise<void> {
  const cell = codeCell(page, text);
  await cell.hover();
  // Not the toolbar's "Execute Cell and Below".
  await cell.getByRole('button', { name: /^Execute Cell(?! and)/ }).click();
}

/** Picks the Kubernetes kernel in the open kernel picker (first through its source, if listed). */
export async function pickPodKernel(page: Page): Promise<void> {
  const picker = page.locator('.quick-input-widget');
  const kernel = picker.getByRole('option', { name: /Kubernetes kernel \(/ });
  const source = picker.getByRole('option', { name: /Pod Runner/ });
  await kernel.or(source).first().waitFor();
  if (!(await kernel.isVisible())) {
    await source.click();
  }
  await kernel.click();
}

/** In a code cell: the status of a run that succeeded, and of a run in progress. */
export const cellSucceeded = '.codicon-notebook-state-success';
export const cellRunning = '.codicon-notebook-state-executing';
