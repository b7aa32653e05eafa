// Upstream sign-in against a real OpenID Connect provider on loopback (node's oidc-provider, see
// lib/idp.mjs), in headless Chromium: our authorize page offers the provider, the user signs in
// and consents there, comes back through /oauth/callback/idp, consents on our page, and the MCP
// client gets its code and tokens. The same upstream identity signing in again (fresh cookies
// everywhere) lands on the same user; our consent page is shown again, because the client returns
// to loopback, which does not prove who is asking (RFC 8252 §8.6). Cancelling at the provider
// shows our "not completed" page with a way to try again. A second provider set-up signs its ID
// tokens with ES256 and puts the email in them, so no userinfo call is needed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, newContext, onNewPage } from '../lib/browser.mjs';
import { startCallbackServer } from '../lib/client.mjs';
import { startDevServer } from '../lib/devserver.mjs';
import { emailOf, startIdp } from '../lib/idp.mjs';
import { authorizationRequest, exchangeCode, registerPublicClient } from '../lib/oauth.mjs';

const SCOPE = 'mcp:tools:read mcp:tools:execute profile:read';
const CLIENT_NAME = 'Upstream Test Client';
const PROVIDER_ID = 'idp';
const PROVIDER_NAME = 'Loopback IdP';

/** The claims of a JWT, unverified (the test only reads `sub`). */
function jwtClaims(jwt) {
  const parts = jwt.split('.');
  assert.equal(parts.length, 3, 'the access token is not a JWT');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

/**
 * Every main-frame request (redirect hops included) and every committed main-frame document of
 * `page` from now on, by URL.
 */
function recordNavigations(page) {
  const requests = [];
  const documents = [];
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) requests.push(new URL(req.url()));
  };
  const onCommit = (frame) => {
    if (frame === page.mainFrame()) documents.push(new URL(frame.url()));
  };
  page.on('request', onRequest);
  page.on('framenavigated', onCommit);
  return {
    requests,
    documents,
    stop: () => {
      page.off('request', onRequest);
      page.off('framenavigated', onCommit);
    },
  };
}

/**
 * Click `selector` and wait until the next main-frame document has committed and loaded: a form
 * post or link that may redirect any number of times before the browser settles on a page.
 */
async function clickAndLoad(page, selector) {
  const committed = page.waitForEvent('framenavigated', (f) => f === page.mainFrame());
  await page.click(selector);
  await committed;
  await page.waitForLoadState('load');
}

const pathOf = (url) => url.origin + url.pathname;

/**
 * The provider, the dev server configured with it, an MCP client's callback server and its
 * registration, and the steps of the flow against them. `idpOptions` go to `startIdp`.
 */
async function startWorld(idpOptions) {
  // The provider listens first (its issuer goes into the dev server's environment), and learns
  // the dev server's callback URL once the dev server has its port.
  const idp = await startIdp(idpOptions);
  const w = { idp, closers: [() => idp.close()] };
  try {
    const server = await startDevServer({ env: idp.providerEnv(PROVIDER_ID, PROVIDER_NAME) });
    w.closers.unshift(() => server.stop());
    idp.serve({ redirectUri: server.at(`/oauth/callback/${PROVIDER_ID}`) });
    const client = await startCallbackServer();
    w.closers.unshift(() => client.close());
    const resource = server.at('/mcp');
    const registered = await registerPublicClient(server.metadata, {
      clientName: CLIENT_NAME,
      redirectUri: client.redirectUri,
    });
    Object.assign(w, { server, client, resource, registered });
  } catch (e) {
    await closeWorld(w);
    throw e;
  }
  const { server, client, resource, registered } = w;
  const ourCallback = server.at(`/oauth/callback/${PROVIDER_ID}`);

  return Object.assign(w, {
    ourCallback,
    isCallback: (url) => url.origin === client.origin && url.pathname === '/callback',
    atIdp: (url) => url.origin === idp.issuer,

    /** A new authorization request for the registered client. */
    newRequest: () =>
      authorizationRequest(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        resource,
        scope: SCOPE,
      }),

    /**
     * From our authorize page to the provider's consent page: "Continue with Loopback IdP", then
     * the provider's development login form (any login, any password).
     */
    async signInAtIdp(page, request, login) {
      await page.goto(request.url);
      assert.equal(await page.locator('h1').innerText(), 'Sign in');
      const button = page.locator('button[name="provider"]');
      assert.deepEqual(await button.allInnerTexts(), [`Continue with ${PROVIDER_NAME}`]);

      await clickAndLoad(page, `button[name="provider"][value="${PROVIDER_ID}"]`);
      assert.ok(w.atIdp(new URL(page.url())), `the provider button leads to ${page.url()}`);
      assert.equal(await page.locator('h1').innerText(), 'Sign-in');

      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', 'any password');
      await clickAndLoad(page, 'button[type="submit"]');
      assert.ok(w.atIdp(new URL(page.url())), `after the provider's login: ${page.url()}`);
      assert.equal(await page.locator('h1').innerText(), 'Authorize', 'the provider asks for consent');
    },

    /**
     * The provider's "Continue", which comes back through our callback to our consent page;
     * returns the provider requests our server made meanwhile (code redemption, userinfo).
     */
    async consentAtIdp(page) {
      const idpSeen = idp.requests.length;
      const nav = recordNavigations(page);
      await clickAndLoad(page, 'button[type="submit"]');
      nav.stop();
      assert.ok(
        nav.requests.some((u) => pathOf(u) === ourCallback),
        `the provider did not send the browser to our callback: ${nav.requests.join(' -> ')}`,
      );
      const here = new URL(page.url());
      assert.equal(here.origin, new URL(server.url).origin, `after the provider: ${here}`);
      return idp.requests.slice(idpSeen).filter((r) => r.path === '/token' || r.path === '/me');
    },

    /** Our consent page for `email`: check it, Allow, and the client hears back. */
    async approveHere(page, email) {
      assert.equal(await page.locator('h1').innerText(), `${CLIENT_NAME} wants to access your account`);
      const text = await page.locator('main').innerText();
      assert.ok(text.includes(`Signed in as ${email}`), `consent page does not show the upstream email:\n${text}`);
      const before = client.received.length;
      await Promise.all([page.waitForURL(w.isCallback), page.click('button[name="action"][value="approve"]')]);
      assert.equal(client.received.length, before + 1);
    },

    /** Exchange the code of the client's last callback; returns the access token's claims. */
    async exchangeLast(request) {
      const params = client.received.at(-1);
      assert.ok(params.get('code'), `no code in the callback: ${params}`);
      assert.equal(params.get('state'), request.state);
      assert.equal(params.get('iss'), server.metadata.issuer);
      assert.equal(params.get('error'), null);
      const { status, body } = await exchangeCode(server.metadata, {
        clientId: registered.client_id,
        redirectUri: client.redirectUri,
        code: params.get('code'),
        verifier: request.verifier,
        resource,
      });
      assert.equal(status, 200, JSON.stringify(body));
      assert.match(body.token_type, /^bearer$/i);
      assert.equal(typeof body.refresh_token, 'string', 'a refresh token comes with the access token');
      return jwtClaims(body.access_token);
    },
  });
}

/** Stop everything `startWorld` started, each in turn, so one failing close leaves no others running. */
async function closeWorld(w) {
  for (const close of w?.closers ?? []) {
    try {
      await close();
    } catch (e) {
      console.error('teardown:', e);
    }
  }
}

/** Run `body(page)` in a fresh browser context (no cookies here or at the provider). */
async function inFreshContext(browser, name, body) {
  const context = await newContext(browser);
  try {
    return await onNewPage(context, name, body);
  } finally {
    await context.close();
  }
}

describe('browser: upstream sign-in through a real OpenID Connect provider on loopback', () => {
  let browser;
  let w;
  let firstSub; // our user id for the upstream login "casey", from the first access token

  before(async () => {
    w = await startWorld();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch((e) => console.error('teardown:', e));
    await closeWorld(w);
  });

  it('a new user signs in at the provider, consents there and here, and the client gets code and tokens', () =>
    inFreshContext(browser, 'upstream-first', async (page) => {
      const request = w.newRequest();
      await w.signInAtIdp(page, request, 'casey');
      const backChannel = await w.consentAtIdp(page);
      // Behind the browser's back, our server redeemed the code with its client credentials
      // (HTTP Basic) and, the ID token of the code flow carrying no email, asked userinfo.
      assert.deepEqual(backChannel, [
        { method: 'POST', path: '/token', auth: 'Basic' },
        { method: 'GET', path: '/me', auth: 'Bearer' },
      ]);
      await w.approveHere(page, emailOf('casey'));
      const claims = await w.exchangeLast(request);
      assert.equal(typeof claims.sub, 'string');
      assert.ok(claims.sub.length > 0);
      firstSub = claims.sub;
    }));

  it('the same upstream identity signing in again lands on the same user, and the loopback client is asked about again', async () => {
    assert.ok(firstSub, 'needs the user from the previous test');
    await inFreshContext(browser, 'upstream-again', async (page) => {
      const request = w.newRequest();
      await w.signInAtIdp(page, request, 'casey');

      const before = w.client.received.length;
      const nav = recordNavigations(page);
      await clickAndLoad(page, 'button[type="submit"]');
      nav.stop();
      // Provider -> our callback -> our consent page: remembered consent does not skip the page
      // for a public client returning to loopback, and nothing reaches the client before Allow.
      const callbackAt = nav.requests.findIndex((u) => pathOf(u) === w.ourCallback);
      assert.ok(callbackAt >= 0, `the provider did not send the browser to our callback: ${nav.requests.join(' -> ')}`);
      assert.equal(w.client.received.length, before, 'the client heard back before the consent page');
      await w.approveHere(page, emailOf('casey'));
      const claims = await w.exchangeLast(request);
      assert.equal(claims.sub, firstSub, 'the same upstream identity became another user');
    });
  });

  it('cancelling at the provider shows that sign-in was not completed, with a link to try again', () =>
    inFreshContext(browser, 'upstream-cancel', async (page) => {
      const request = w.newRequest();
      await w.signInAtIdp(page, request, 'drew');

      const before = w.client.received.length;
      const answer = page.waitForResponse(
        (r) => r.request().isNavigationRequest() && pathOf(new URL(r.url())) === w.ourCallback,
      );
      await clickAndLoad(page, 'a:text("[ Cancel ]")'); // the provider's abort link
      const response = await answer;
      const back = new URL(response.url());
      assert.equal(back.searchParams.get('error'), 'access_denied', `the provider answered ${back}`);
      assert.equal(response.status(), 400);

      assert.equal(pathOf(new URL(page.url())), w.ourCallback);
      assert.equal(await page.locator('h1').innerText(), 'Sign-in was not completed');
      const text = await page.locator('main').innerText();
      assert.ok(text.includes(`You did not allow ${PROVIDER_NAME} to sign you in here.`), text);
      const href = await page.locator('a', { hasText: 'Try again' }).getAttribute('href');
      assert.ok(href?.startsWith('/oauth/authorize?'), `Try again leads to ${href}`);
      assert.equal(w.client.received.length, before, 'the client heard nothing');

      // "Try again" restarts the same MCP authorization at our sign-in page.
      await clickAndLoad(page, 'a:text("Try again")');
      assert.equal(pathOf(new URL(page.url())), w.server.metadata.authorization_endpoint);
      assert.equal(new URL(page.url()).searchParams.get('state'), request.state);
      assert.equal(await page.locator('h1').innerText(), 'Sign in');
    }));
});

describe('browser: upstream sign-in where the ID token (ES256) carries the email', () => {
  let browser;
  let w;

  before(async () => {
    w = await startWorld({ idTokenAlg: 'ES256', emailInIdToken: true });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch((e) => console.error('teardown:', e));
    await closeWorld(w);
  });

  it('an ES256 ID token with a verified email signs the user in without a userinfo call', () =>
    inFreshContext(browser, 'upstream-es256', async (page) => {
      const request = w.newRequest();
      await w.signInAtIdp(page, request, 'robin');
      const backChannel = await w.consentAtIdp(page);
      assert.deepEqual(backChannel, [{ method: 'POST', path: '/token', auth: 'Basic' }]);
      await w.approveHere(page, emailOf('robin'));
      const claims = await w.exchangeLast(request);
      assert.ok(claims.sub, 'the access token names a user');
    }));
});
