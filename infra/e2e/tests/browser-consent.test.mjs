// The authorization flow as a person meets it, in real headless Chromium against the dev server:
// sign up, consent, back at the client with code, state and iss; the code exchanges for a token;
// a second authorization by the same user shows the consent page again without a sign-in (a
// loopback public client's redirect does not prove who is asking, RFC 8252 §8.6); denying sends
// access_denied.
// Saves screenshots of the login and consent pages (docs/ with UPDATE_SCREENSHOTS=1).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, newContext, onNewPage } from '../lib/browser.mjs';
import { startCallbackServer } from '../lib/client.mjs';
import { startDevServer } from '../lib/devserver.mjs';
import { authorizationRequest, exchangeCode, registerPublicClient } from '../lib/oauth.mjs';
import { submitForm } from '../lib/pages.mjs';
import { mailedCode } from '../lib/mail.mjs';
import { screenshotPath } from '../lib/util.mjs';

const SCOPE = 'mcp:tools:read mcp:tools:execute profile:read';
// What the consent page must tell the user for SCOPE (shared/src/scopes.rs).
const SCOPE_DESCRIPTIONS = [
  'See the list of tools this server offers',
  'Run tools on your behalf',
  'Read your profile: your user id and email address',
];
const CLIENT_NAME = 'Example MCP Client';

const isCallback = (client) => (url) => url.origin === client.origin && url.pathname === '/callback';

describe('browser: sign-up, consent and redirect (dev server, headless Chromium)', () => {
  let server;
  let client;
  let browser;
  let context;
  let registered;
  let resource;
  let first; // the first authorization request and the code it produced

  before(async () => {
    server = await startDevServer();
    client = await startCallbackServer();
    browser = await launchBrowser();
    context = await newContext(browser);
    resource = server.at('/mcp');
    registered = await registerPublicClient(server.metadata, {
      clientName: CLIENT_NAME,
      redirectUri: client.redirectUri,
    });
  });

  after(async () => {
    // Each in turn, so one failing close does not leave the others running.
    for (const close of [() => browser?.close(), () => client?.close(), () => server?.stop()]) {
      try {
        await close();
      } catch (e) {
        console.error('teardown:', e);
      }
    }
  });

  it('a new user signs up, proves their email with the mailed code, sees the consent page, approves, and the client gets code, state and iss', () =>
    onNewPage(context, 'first-authorization', async (page) => {
      first = authorizationRequest(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        resource,
        scope: SCOPE,
      });

      await page.goto(first.url);
      assert.equal(await page.locator('h1').innerText(), 'Sign in');
      assert.match(await page.locator('main').innerText(), new RegExp(`continue to\\s+${CLIENT_NAME}`));
      await page.screenshot({ path: await screenshotPath('login.png'), fullPage: true });

      // Plain HTML forms: switching to sign-up is a form post, so wait for that navigation.
      const signupPage = await submitForm(page, 'button[name="action"][value="show_signup"]');
      assert.equal(signupPage.status(), 200);
      const signup = page.locator('form:has(button[name="action"][value="signup"])');
      // A fixed address is fine: every run starts with an empty store. It shows in docs/consent.png.
      const email = 'alex@example.com';
      await signup.locator('input[name="email"]').fill(email);
      await signup.locator('input[name="password"]').fill('a long passphrase for e2e');
      const verifyPage = await submitForm(page, 'button[name="action"][value="signup"]');
      assert.equal(verifyPage.status(), 200);

      // The address is proved before anything is authorized: the code is read from the outbox.
      assert.equal(await page.locator('h1').innerText(), 'Check your email');
      assert.ok((await page.locator('main').innerText()).includes(email));
      await page.screenshot({ path: await screenshotPath('verify.png'), fullPage: true });
      await page.locator('input[name="code"]').fill(await mailedCode(server.outbox, email));
      const consentPage = await submitForm(page, 'button[name="action"][value="verify_email"]');
      assert.equal(consentPage.status(), 200);

      // The consent page names the client, what it may do, and where the user goes next.
      const heading = await page.locator('h1').innerText();
      assert.equal(heading, `${CLIENT_NAME} wants to access your account`);
      const scopes = await page.locator('main li').allInnerTexts();
      assert.deepEqual(scopes, SCOPE_DESCRIPTIONS);
      const text = await page.locator('main').innerText();
      assert.ok(text.includes(`Signed in as ${email}`), `consent page does not show the user:\n${text}`);
      assert.ok(
        text.includes(`sent back to ${new URL(client.redirectUri).hostname}`),
        `consent page does not show the redirect host:\n${text}`,
      );
      await page.screenshot({ path: await screenshotPath('consent.png'), fullPage: true });

      await Promise.all([page.waitForURL(isCallback(client)), page.click('button[name="action"][value="approve"]')]);
      assert.equal(client.received.length, 1);
      const params = client.received[0];
      assert.ok(params.get('code'), 'no code in the callback');
      assert.equal(params.get('state'), first.state);
      assert.equal(params.get('iss'), server.metadata.issuer);
      assert.equal(params.get('error'), null);
      first.code = params.get('code');
    }));

  it('the authorization code exchanges for an access token with the PKCE verifier', async () => {
    assert.ok(first?.code, 'needs the code from the previous test');
    const { status, body } = await exchangeCode(server.metadata, {
      clientId: registered.client_id,
      redirectUri: client.redirectUri,
      code: first.code,
      verifier: first.verifier,
      resource,
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(typeof body.access_token, 'string');
    assert.ok(body.access_token.length > 20);
    assert.match(body.token_type, /^bearer$/i);
  });

  it('the same user authorising the same loopback client again sees the consent page, without signing in', async () => {
    assert.ok(first?.code, 'needs the consent given in the first test');
    await onNewPage(context, 'second-authorization', async (page) => {
      const again = authorizationRequest(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        resource,
        scope: SCOPE,
      });
      const before = client.received.length;
      const response = await page.goto(again.url);
      // Remembered consent does not skip the page for a public client returning to loopback:
      // any local process could send this client_id with its own port and PKCE (RFC 8252 §8.6).
      assert.equal(response.status(), 200);
      assert.equal(await page.locator('h1').innerText(), `${CLIENT_NAME} wants to access your account`);
      assert.equal(client.received.length, before, 'nothing reached the client before approval');
      await Promise.all([page.waitForURL(isCallback(client)), page.click('button[name="action"][value="approve"]')]);
      assert.equal(client.received.length, before + 1);
      const params = client.received.at(-1);
      assert.ok(params.get('code'), 'no code in the callback');
      assert.equal(params.get('state'), again.state);
      assert.equal(params.get('iss'), server.metadata.issuer);
      const { status, body } = await exchangeCode(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        code: params.get('code'),
        verifier: again.verifier,
        resource,
      });
      assert.equal(status, 200, JSON.stringify(body));
    });
  });

  it('a signed-in user who denies another client sends it access_denied with state and iss', async () => {
    const other = await registerPublicClient(server.metadata, {
      clientName: 'Another Client',
      redirectUri: client.redirectUri,
    });
    await onNewPage(context, 'deny', async (page) => {
      const request = authorizationRequest(server.metadata, {
        clientId: other.client_id,
        redirectUri: client.redirectUri,
        resource,
        scope: SCOPE,
      });
      const before = client.received.length;
      await page.goto(request.url);
      // Same browser session, new client: consent is asked again, without a login.
      assert.equal(await page.locator('h1').innerText(), 'Another Client wants to access your account');
      await Promise.all([page.waitForURL(isCallback(client)), page.click('button[name="action"][value="deny"]')]);
      assert.equal(client.received.length, before + 1);
      const params = client.received.at(-1);
      assert.equal(params.get('error'), 'access_denied');
      assert.equal(params.get('code'), null);
      assert.equal(params.get('state'), request.state);
      assert.equal(params.get('iss'), server.metadata.issuer);
    });
  });
});
