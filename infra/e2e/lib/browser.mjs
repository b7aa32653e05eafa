// Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium (or CHROMIUM_PATH), driven
// by playwright-core. Playwright's own browser downloads are never used (`npx playwright
// install` cannot work on a machine that reaches only package registries).
//
// Not for: what a test does with the page.

import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { chromium } from 'playwright-core';

import { ROOT } from './util.mjs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
// The background-networking flags stop Chromium calling Google's services, which this machine's
// closed network refuses (noisy, and slow at start-up).
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Launch headless Chromium. Close it with `await browser.close()`. */
export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 30_000 });
}

/**
 * A fresh browser context (its own cookie jar) sized like a phone-ish window, so that
 * screenshots read well in the README; light colour scheme for the same reason.
 */
export async function newContext(browser) {
  const context = await browser.newContext({
    viewport: { width: 480, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    locale: 'en-US',
  });
  // Bounded waits everywhere: a missing element or navigation fails in seconds, not minutes.
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(10_000);
  return context;
}

/**
 * Run `body(page)` on a new page of `context`, and close the page afterwards. If it fails, the
 * error says where the page was and what it showed, and a screenshot of that moment is saved as
 * target/e2e/failure-<name>.png: a timeout alone does not tell which page was reached instead.
 */
export async function onNewPage(context, name, body) {
  const shot = join(ROOT, 'target', 'e2e', `failure-${name}.png`);
  await rm(shot, { force: true }); // a picture of an earlier run's failure would mislead
  const page = await context.newPage();
  try {
    return await body(page);
  } catch (e) {
    let state;
    try {
      await mkdir(dirname(shot), { recursive: true });
      await page.screenshot({ path: shot, fullPage: true, timeout: 5_000 });
      const text = await page.locator('body').innerText({ timeout: 2_000 });
      state = `page at ${page.url()} (screenshot ${shot}) shows:\n${text.slice(0, 2_000)}`;
    } catch (inner) {
      state = `page at ${page.url()}; could not read it: ${inner.message}`;
    }
    // The runner prints the stack (which repeats the message as it was at creation), so add to both.
    e.message = `${e.message}\n--- ${state}`;
    if (typeof e.stack === 'string') e.stack = `${e.stack}\n--- ${state}`;
    throw e;
  } finally {
    await page.close();
  }
}
