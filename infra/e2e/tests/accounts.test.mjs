// Accounts whose identity is verified, in headless Chromium against the dev server:
// - forgot password → the mailed link (read from the dev server's outbox) → a new password →
//   sign in with it, and the MCP client gets its code;
// - connected apps on the account page: an MCP client is listed, the person revokes it, and the
//   client's next MCP call gets 401 (within the revocation window) and its refresh invalid_grant;
// - the pre-account takeover ("classic-federated merge"): an attacker signs up with the victim's
//   address and a password of their own, never able to verify it; the victim later signs in
//   through a real OpenID provider on loopback that vouches for the address. The victim lands on
//   an account of their own, and the attacker ends with no way in and no view of the victim's data.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, newContext, onNewPage } from '../lib/browser.mjs';
import { startCallbackServer } from '../lib/client.mjs';
import { startDevServer } from '../lib/devserver.mjs';
import { emailOf, startIdp } from '../lib/idp.mjs';
import { mailedResetLink, mailsTo } from '../lib/mail.mjs';
import { authorizationRequest, exchangeCode, registerPublicClient } from '../lib/oauth.mjs';
import { authorizeInBrowser, submitForm } from '../lib/pages.mjs';
import { pollUntil, screenshotPath } from '../lib/util.mjs';

const SCOPE = 'mcp:tools:read mcp:tools:execute profile:read';
const PROVIDER_ID = 'idp';

async function inFreshContext(browser, name, body) {
  const context = await newContext(browser);
  try {
    return await onNewPage(context, name, body);
  } finally {
    await context.close();
  }
}

/** Click and wait for the next main-frame document to load (redirects included). */
async function clickAndLoad(page, selector) {
  const committed = page.waitForEvent('framenavigated', (f) => f === page.mainFrame());
  await page.click(selector);
  await committed;
  await page.waitForLoadState('load');
}

/** One JSON-RPC call to /mcp with a bearer token; returns the HTTP status and the parsed body. */
async function mcpCall(server, token, name, args) {
  const res = await fetch(server.at('/mcp'), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
  return { status: res.status, body: await res.json() };
}

describe('browser: forgot password, reset by the mailed link, sign in with the new password', () => {
  let browser;
  let server;
  let client;
  let registered;

  before(async () => {
    server = await startDevServer();
    client = await startCallbackServer();
    registered = await registerPublicClient(server.metadata, {
      clientName: 'Reset Test Client',
      redirectUri: client.redirectUri,
    });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const close of [() => browser?.close(), () => client?.close(), () => server?.stop()]) {
      await Promise.resolve()
        .then(close)
        .catch((e) => console.error('teardown:', e));
    }
  });

  const newRequest = () =>
    authorizationRequest(server.metadata, {
      clientId: registered.client_id,
      redirectUri: client.redirectUri,
      resource: server.at('/mcp'),
      scope: SCOPE,
    });

  it('a user who forgot their password resets it through the mailed link and signs in with the new one', async () => {
    const email = 'forgetful@example.com';
    await inFreshContext(browser, 'reset-sign-up', async (page) => {
      const result = await authorizeInBrowser(page, newRequest().url, {
        callbackUrl: client.redirectUri,
        signUp: { email, password: 'the first long passphrase' },
      });
      assert.deepEqual(result.pages, ['sign in', 'check your email', 'consent']);
    });

    await inFreshContext(browser, 'reset-flow', async (page) => {
      const request = newRequest();
      await page.goto(request.url);
      assert.equal(await page.locator('h1').innerText(), 'Sign in');
      await submitForm(page, 'button[name="action"][value="show_reset"]');
      assert.equal(await page.locator('h1').innerText(), 'Reset your password');
      await page.screenshot({ path: await screenshotPath('reset-request.png'), fullPage: true });
      await page.locator('input[name="email"]').fill(email);
      const sent = await submitForm(page, 'button[name="action"][value="request_reset"]');
      assert.equal(sent.status(), 200);
      assert.equal(await page.locator('h1').innerText(), 'Check your email');
      await page.screenshot({ path: await screenshotPath('reset-sent.png'), fullPage: true });

      // The person opens the link from their mail.
      const link = await mailedResetLink(server.outbox, email);
      assert.ok(link.startsWith(`${server.url}/oauth/reset?token=`), link);
      await page.goto(link);
      assert.equal(await page.locator('h1').innerText(), 'Choose a new password');
      await page.screenshot({ path: await screenshotPath('reset-form.png'), fullPage: true });
      await page.locator('input[name="password"]').fill('a second, better passphrase');
      await clickAndLoad(page, 'button[type="submit"]');
      assert.equal(await page.locator('h1').innerText(), 'Password changed');
      await page.screenshot({ path: await screenshotPath('reset-done.png'), fullPage: true });

      // "Continue to sign in" resumes the authorization the person was in.
      await clickAndLoad(page, 'a:text("Continue to sign in")');
      assert.equal(await page.locator('h1').innerText(), 'Sign in');
      assert.equal(new URL(page.url()).searchParams.get('state'), request.state);
      const form = page.locator('form:has(button[name="action"][value="login"])');
      await form.locator('input[name="email"]').fill(email);
      await form.locator('input[name="password"]').fill('a second, better passphrase');
      const before = client.received.length;
      await clickAndLoad(page, 'button[name="action"][value="login"]');
      if (/ wants to access your account$/.test(await page.locator('h1').innerText())) {
        await Promise.all([
          page.waitForURL((u) => u.origin === client.origin),
          page.click('button[name="action"][value="approve"]'),
        ]);
      }
      assert.equal(client.received.length, before + 1, `did not reach the client; at ${page.url()}`);
      const params = client.received.at(-1);
      assert.equal(params.get('state'), request.state);
      const { status } = await exchangeCode(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        code: params.get('code'),
        verifier: request.verifier,
        resource: server.at('/mcp'),
      });
      assert.equal(status, 200);
    });
  });
});

describe('browser: a pre-registered unverified account never captures the victim who signs in upstream', () => {
  let browser;
  let idp;
  let server;
  let client;
  let registered;

  before(async () => {
    idp = await startIdp({ idTokenAlg: 'ES256', emailInIdToken: true });
    server = await startDevServer({ env: idp.providerEnv(PROVIDER_ID, 'Loopback IdP') });
    idp.serve({ redirectUri: server.at(`/oauth/callback/${PROVIDER_ID}`) });
    client = await startCallbackServer();
    registered = await registerPublicClient(server.metadata, {
      clientName: 'Takeover Test Client',
      redirectUri: client.redirectUri,
    });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const close of [() => browser?.close(), () => client?.close(), () => server?.stop(), () => idp?.close()]) {
      await Promise.resolve()
        .then(close)
        .catch((e) => console.error('teardown:', e));
    }
  });

  const newRequest = () =>
    authorizationRequest(server.metadata, {
      clientId: registered.client_id,
      redirectUri: client.redirectUri,
      resource: server.at('/mcp'),
      scope: SCOPE,
    });

  it('the attacker signs up first, the victim signs in upstream, and the attacker gets nothing', async () => {
    const victimEmail = emailOf('victim');
    const attackerPassword = 'the attackers own passphrase';

    // 1. The attacker creates an account with the victim's address. The code goes to the
    //    victim's mailbox, which the attacker cannot read: they stop at "check your email".
    await inFreshContext(browser, 'takeover-attacker-signs-up', async (page) => {
      await page.goto(newRequest().url);
      await submitForm(page, 'button[name="action"][value="show_signup"]');
      const form = page.locator('form:has(button[name="action"][value="signup"])');
      await form.locator('input[name="email"]').fill(victimEmail);
      await form.locator('input[name="password"]').fill(attackerPassword);
      await submitForm(page, 'button[name="action"][value="signup"]');
      assert.equal(await page.locator('h1').innerText(), 'Check your email');
      // A guess at the code fails.
      await page.locator('input[name="code"]').fill('123456');
      await submitForm(page, 'button[name="action"][value="verify_email"]');
      assert.equal(await page.locator('h1').innerText(), 'Check your email');
      assert.equal(client.received.length, 0, 'the attacker reached no client');
    });
    assert.equal((await mailsTo(server.outbox, victimEmail)).length, 1, 'the code went to the victim');

    // 2. The victim signs in through the provider, which vouches for the address, and
    //    authorizes the client; their token writes a private note.
    let victimToken;
    await inFreshContext(browser, 'takeover-victim-upstream', async (page) => {
      const request = newRequest();
      await page.goto(request.url);
      await clickAndLoad(page, `button[name="provider"][value="${PROVIDER_ID}"]`);
      await page.fill('input[name="login"]', 'victim');
      await page.fill('input[name="password"]', 'any password');
      await clickAndLoad(page, 'button[type="submit"]');
      await clickAndLoad(page, 'button[type="submit"]'); // the provider's consent
      assert.equal(await page.locator('h1').innerText(), 'Takeover Test Client wants to access your account');
      assert.ok((await page.locator('main').innerText()).includes(`Signed in as ${victimEmail}`));
      await Promise.all([
        page.waitForURL((u) => u.origin === client.origin),
        page.click('button[name="action"][value="approve"]'),
      ]);
      const params = client.received.at(-1);
      const { status, body } = await exchangeCode(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        code: params.get('code'),
        verifier: request.verifier,
        resource: server.at('/mcp'),
      });
      assert.equal(status, 200, JSON.stringify(body));
      victimToken = body.access_token;
    });
    const added = await mcpCall(server, victimToken, 'notes_add', { text: 'the victim private note' });
    assert.equal(added.status, 200);
    assert.equal(added.body.result.isError, false, JSON.stringify(added.body));

    // 3. The attacker comes back with their password: the address now belongs to the victim's
    //    account, which has no password, so the sign-in fails and no code is ever issued.
    const received = client.received.length;
    await inFreshContext(browser, 'takeover-attacker-returns', async (page) => {
      await page.goto(newRequest().url);
      const form = page.locator('form:has(button[name="action"][value="login"])');
      await form.locator('input[name="email"]').fill(victimEmail);
      await form.locator('input[name="password"]').fill(attackerPassword);
      await submitForm(page, 'button[name="action"][value="login"]');
      assert.equal(await page.locator('h1').innerText(), 'Sign in');
      assert.ok((await page.locator('main').innerText()).includes('Wrong email or password.'));
    });
    assert.equal(client.received.length, received, 'the attacker reached no client');

    // The victim's data is the victim's: their own account holds the note.
    const listed = await mcpCall(server, victimToken, 'notes_list', {});
    const notes = listed.body.result.structuredContent.notes.map((n) => n.text);
    assert.deepEqual(notes, ['the victim private note']);
  });
});

describe('browser: the account page lists a connected app, and revoking it ends the app\'s access', () => {
  let browser;
  let server;
  let client;
  let registered;
  // A small revocation window, so the test waits seconds, not a minute.
  const WINDOW_S = 2;

  before(async () => {
    server = await startDevServer({ env: { REVOCATION_WINDOW: String(WINDOW_S) } });
    client = await startCallbackServer();
    registered = await registerPublicClient(server.metadata, {
      clientName: 'Notes Desktop',
      redirectUri: client.redirectUri,
    });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const close of [() => browser?.close(), () => client?.close(), () => server?.stop()]) {
      await Promise.resolve()
        .then(close)
        .catch((e) => console.error('teardown:', e));
    }
  });

  it('a connected client is listed, revoked on the page, then refused at /mcp and at refresh', () =>
    inFreshContext(browser, 'account-revoke', async (page) => {
      const request = authorizationRequest(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        resource: server.at('/mcp'),
        scope: SCOPE,
      });
      await authorizeInBrowser(page, request.url, {
        callbackUrl: client.redirectUri,
        signUp: { email: 'sam@example.com', password: 'a long passphrase for e2e' },
      });
      const { status, body } = await exchangeCode(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        code: client.received.at(-1).get('code'),
        verifier: request.verifier,
        resource: server.at('/mcp'),
      });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal((await mcpCall(server, body.access_token, 'whoami', {})).status, 200);

      // The same browser, already signed in, opens the account page.
      await page.goto(server.at('/account'));
      assert.equal(await page.locator('h1').innerText(), 'Your account');
      const app = page.locator('ul.apps > li');
      assert.equal(await app.count(), 1);
      const text = await app.innerText();
      assert.ok(text.includes('Notes Desktop'), text);
      assert.ok(text.includes('See the list of tools this server offers'), text);
      await page.screenshot({ path: await screenshotPath('account.png'), fullPage: true });

      await clickAndLoad(page, 'button[name="action"][value="revoke"]');
      assert.equal(await page.locator('ul.apps > li').count(), 0, 'the app is no longer listed');

      // Refused at /mcp once the window has passed: poll with a deadline, no fixed sleep.
      await pollUntil(async () => (await mcpCall(server, body.access_token, 'whoami', {})).status === 401, {
        timeoutMs: (WINDOW_S + 5) * 1000,
        intervalMs: 250,
        what: 'the revoked access token to be refused at /mcp',
      });
      const refreshed = await fetch(server.metadata.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: registered.client_id,
          refresh_token: body.refresh_token,
        }).toString(),
      });
      assert.equal(refreshed.status, 400);
      assert.equal((await refreshed.json()).error, 'invalid_grant');
    }));
});
