// The official Python MCP SDK (`mcp`, pinned in infra/requirements.txt, installed into
// .tools/venv by infra/scripts/tools.sh) against the dev server: python/sdk_client.py connects
// with the SDK's own OAuth client; this test plays the person in headless Chromium and hands the
// callback's parameters back to it. The SDK probes with server/discover at 2026-07-28, meets the
// 401, discovers, registers, authorizes with PKCE, checks state and iss, exchanges the code,
// and then lists and calls tools.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, newContext, onNewPage } from '../lib/browser.mjs';
import { startCallbackServer } from '../lib/client.mjs';
import { startDevServer } from '../lib/devserver.mjs';
import { authorizeInBrowser } from '../lib/pages.mjs';
import { ROOT, withTimeout } from '../lib/util.mjs';

/** The venv python with the SDK: E2E_PYTHON, else .tools/venv/bin/python. */
const PYTHON = process.env.E2E_PYTHON || join(ROOT, '.tools', 'venv', 'bin', 'python');
const CLIENT_SCRIPT = join(ROOT, 'infra', 'e2e', 'python', 'sdk_client.py');
const RUN_TIMEOUT_MS = 60_000;

/**
 * Run sdk_client.py to the end. `onAuthorize(url)` answers each authorization it asks for with
 * the callback's parameters. Returns its "done" report; fails with its stderr otherwise.
 */
async function runPythonClient({ mcpUrl, redirectUri, noteText, onAuthorize }) {
  const child = spawn(PYTHON, [CLIENT_SCRIPT, mcpUrl, redirectUri, noteText], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => (stderr += s));
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (e) => resolve({ code: `spawn error: ${e.message}`, signal: null }));
  });
  const authorizations = [];
  const run = (async () => {
    let done;
    for await (const line of createInterface({ input: child.stdout })) {
      const message = JSON.parse(line);
      if (message.event === 'authorize') {
        authorizations.push(new URL(message.url));
        const params = await onAuthorize(new URL(message.url));
        child.stdin.write(`${JSON.stringify(params)}\n`);
      } else if (message.event === 'done') {
        done = message;
      }
    }
    const { code, signal } = await exited;
    if (code !== 0 || !done) {
      throw new Error(`sdk_client.py exited (code ${code}, signal ${signal}) without a report:\n${stderr}`);
    }
    return { ...done, authorizations };
  })();
  try {
    return await withTimeout(run, RUN_TIMEOUT_MS, 'the Python SDK client to finish');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdin.destroy();
  }
}

describe('Python MCP SDK: OAuth, server/discover and tools against the dev server', () => {
  let server;
  let callback;
  let browser;
  let context;
  const email = 'python-sdk@example.com';

  before(async () => {
    await access(PYTHON).catch(() => {
      throw new Error(`${PYTHON} not found: run infra/scripts/tools.sh (it installs the mcp package)`);
    });
    server = await startDevServer();
    callback = await startCallbackServer();
    browser = await launchBrowser();
    context = await newContext(browser);
  });

  after(async () => {
    for (const close of [() => browser?.close(), () => callback?.close(), () => server?.stop()]) {
      try {
        await close();
      } catch (e) {
        console.error('teardown:', e);
      }
    }
  });

  it('the SDK authorizes through the 401 (person signs up and consents), negotiates 2026-07-28 with server/discover, and calls whoami, notes_add and notes_list', async (t) => {
    const mcpUrl = server.at('/mcp');
    const noteText = 'a note from Python';
    const report = await runPythonClient({
      mcpUrl,
      redirectUri: callback.redirectUri,
      noteText,
      onAuthorize: (url) =>
        onNewPage(context, 'python-sdk-authorization', async (page) => {
          const result = await authorizeInBrowser(page, url, {
            callbackUrl: callback.redirectUri,
            signUp: { email, password: 'a long passphrase for e2e' },
          });
          assert.deepEqual(result.pages, ['sign in', 'check your email', 'consent']);
          return Object.fromEntries(result.callback);
        }),
    });
    const steps = report.exchanges.map((e) => {
      const what = e.grant_type || e.rpc_method;
      return `${e.method} ${e.path}${what ? ` (${what})` : ''} ${e.status}`;
    });
    t.diagnostic(`SDK requests: ${steps.join(', ')}`);

    // One authorization, with PKCE S256 and the resource, for the scopes of the 401 challenge
    // plus offline_access, which the SDK adds (with prompt=consent) because the AS lists it.
    assert.equal(report.authorizations.length, 1);
    const q = report.authorizations[0].searchParams;
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.equal(q.get('resource'), mcpUrl);
    const prm = await (await fetch(server.at('/.well-known/oauth-protected-resource/mcp'))).json();
    assert.ok(server.metadata.scopes_supported.includes('offline_access'));
    const expectedScope = [...prm.scopes_supported, 'offline_access'].sort();
    // offline_access asks the AS for a refresh token; it stays out of the access token's scope.
    const tokenScope = [...prm.scopes_supported].sort();
    assert.deepEqual(q.get('scope').split(' ').sort(), expectedScope);
    assert.equal(q.get('prompt'), 'consent');
    assert.deepEqual(report.token_scope.split(' ').sort(), tokenScope);
    assert.equal(report.registered_auth_method, 'none');

    // The first request is the 2026-07-28 server/discover probe, refused for want of a token.
    const first = report.exchanges[0];
    assert.deepEqual(
      [first.method, first.path, first.rpc_method, first.status, first.bearer],
      ['POST', '/mcp', 'server/discover', 401, false],
    );
    assert.equal(first.protocol_version, '2026-07-28');
    const tokenPath = new URL(server.metadata.token_endpoint).pathname;
    assert.ok(
      report.exchanges.some((e) => e.path === tokenPath && e.grant_type === 'authorization_code' && e.status === 200),
      steps.join('\n'),
    );
    assert.equal(report.protocol_version, '2026-07-28');
    // After the token, every MCP request carried it and succeeded, the discover retry first; no
    // initialize: 2026-07-28 has no handshake.
    const afterToken = report.exchanges
      .slice(report.exchanges.findIndex((e) => e.path === tokenPath) + 1)
      .filter((e) => e.path === '/mcp');
    assert.ok(
      afterToken.every((e) => e.bearer && e.status === 200 && e.protocol_version === '2026-07-28'),
      steps.join('\n'),
    );
    assert.deepEqual(
      afterToken.map((e) => e.rpc_method),
      ['server/discover', 'tools/list', 'tools/call', 'tools/call', 'tools/call'],
    );

    assert.deepEqual(report.tools, ['notes_add', 'notes_delete', 'notes_get', 'notes_list', 'whoami']);
    assert.equal(report.whoami.email, email);
    assert.equal(report.added.text, noteText);
    assert.deepEqual(
      report.notes.notes.map((n) => n.text),
      [noteText],
    );
  });
});
