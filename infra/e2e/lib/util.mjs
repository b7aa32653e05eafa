// Small helpers shared by the end-to-end tests: the repository root, free ports, bounded waits,
// and where artefacts (screenshots) go.
//
// Not for: anything that knows about OAuth or the browser.

import { createServer } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (infra/e2e/lib -> ../../..). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A TCP port that was free on 127.0.0.1 a moment ago (the kernel picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `promise`, or a rejection naming `what` after `ms` milliseconds. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Where a screenshot named `name` goes: docs/ when UPDATE_SCREENSHOTS=1 (to refresh the README's
 * pictures, then commit them), else target/e2e/ so that a normal run leaves the work tree clean.
 */
export async function screenshotPath(name) {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs') : join(ROOT, 'target', 'e2e');
  await mkdir(dir, { recursive: true });
  return join(dir, name);
}

/**
 * Ask `check()` every `intervalMs` until it returns something truthy, and return that; fail
 * naming `what` once `timeoutMs` has passed. For conditions that only the server can tell (has
 * it stopped accepting a token yet?), where no event announces the moment.
 */
export async function pollUntil(check, { timeoutMs, intervalMs = 500, what }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
