// The official TypeScript MCP SDK (`@modelcontextprotocol/sdk`, pinned in package.json) against
// the dev server, with the SDK's own OAuth client support and nothing stubbed on our side:
// 401 -> protected resource and authorization server discovery -> dynamic registration ->
// authorization with PKCE; a person signs up and consents in headless Chromium; the SDK
// exchanges the code, initializes, lists and calls tools; once the short-lived access token has
// expired by the server's clock, the SDK refreshes (rotating the refresh token) on the 401; and a
// client holding too few scopes gets the 403 insufficient_scope step-up challenge, then succeeds
// after the person consents to the wider scope.
//
// Every request the SDK makes goes through a recording fetch (lib/mcp.mjs), so each test asserts
// what the SDK actually sent and got, not only the end result.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';

import { launchBrowser, newContext, onNewPage } from '../lib/browser.mjs';
import { startCallbackServer } from '../lib/client.mjs';
import { startDevServer } from '../lib/devserver.mjs';
import { formatLog, InMemoryOAuthProvider, newTransport, recordingFetch } from '../lib/mcp.mjs';
import { authorizeInBrowser } from '../lib/pages.mjs';
import { pollUntil, ROOT } from '../lib/util.mjs';

// The installed SDK's version, for the suite names (its exports do not include package.json).
const SDK_PACKAGE = join(ROOT, 'infra', 'e2e', 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json');
const SDK_VERSION = JSON.parse(await readFile(SDK_PACKAGE, 'utf8')).version;

// What this SDK version asks for in `initialize`, and what the server must agree to.
const PROTOCOL_VERSION = '2025-11-25';
const TOOLS = ['notes_add', 'notes_delete', 'notes_get', 'notes_list', 'whoami'];
// Seconds; see the refresh test for why the wait is longer than this.
const ACCESS_TOKEN_TTL = 1;
// shared/src/mcp/auth.rs LEEWAY: the MCP endpoint accepts a token this long after its `exp`.
const EXP_LEEWAY = 30;
const PASSWORD = 'a long passphrase for e2e';

const sorted = (scope) => (scope ?? '').split(' ').filter(Boolean).sort();
const summary = (log) => log.map((e) => `${e.method} ${e.path} ${e.status}`);
const pathOf = (url) => new URL(url).pathname;
/** The requests to the MCP and token endpoints only, named by endpoint ('/mcp', 'token'). */
const onlyMcpAndToken = (log, metadata) =>
  log
    .map((e) => (e.path === pathOf(metadata.token_endpoint) ? { ...e, path: 'token' } : e))
    .filter((e) => e.path === '/mcp' || e.path === 'token')
    .map((e) => `${e.method} ${e.path} ${e.status}${e.grantType ? ` ${e.grantType}` : ''}`);

/** The `name="value"` parameters of a `WWW-Authenticate: Bearer ...` header. */
function challengeParams(header) {
  assert.match(header ?? '', /^Bearer /, `not a Bearer challenge: ${header}`);
  return Object.fromEntries([...header.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
}

/** A tool result's structured content, after checking it is not an error. */
function structured(result, what) {
  assert.notEqual(result.isError, true, `${what} failed: ${JSON.stringify(result.content)}`);
  assert.ok(result.structuredContent, `${what} has no structured content: ${JSON.stringify(result)}`);
  return result.structuredContent;
}

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Start what each suite needs: dev server, callback server, browser context, SDK provider. */
async function setUp({ env = {}, clientName }) {
  const parts = {};
  try {
    parts.server = await startDevServer({ env });
    parts.callback = await startCallbackServer();
    parts.context = await newContext(browser);
  } catch (e) {
    await tearDown(parts);
    throw e;
  }
  parts.mcpUrl = parts.server.at('/mcp');
  parts.recorder = recordingFetch();
  parts.provider = new InMemoryOAuthProvider({ redirectUrl: parts.callback.redirectUri, clientName });
  return parts;
}

/** Stop what setUp started (and the client), each part in turn, so one failure leaves none running. */
async function tearDown({ client, context, callback, server }) {
  for (const close of [() => client?.close(), () => context?.close(), () => callback?.close(), () => server?.stop()]) {
    try {
      await close();
    } catch (e) {
      console.error('teardown:', e);
    }
  }
}

/** The person completes the authorization the SDK last asked for; returns the callback's code. */
async function personAuthorizes(s, name, { signUp, expectPages }) {
  const url = s.provider.authorizations.at(-1);
  assert.ok(url, 'the SDK never sent the person to authorize');
  const seen = s.callback.received.length;
  const result = await onNewPage(s.context, name, (page) =>
    authorizeInBrowser(page, url, { callbackUrl: s.callback.redirectUri, signUp }),
  );
  assert.deepEqual(result.pages, expectPages);
  // The loopback callback server received the redirect: that is what hands the code back.
  assert.equal(s.callback.received.length, seen + 1);
  const params = s.callback.received.at(-1);
  assert.equal(params.get('error'), null, `authorization failed: ${params}`);
  // The app's checks on the authorization response (this SDK version leaves them to the app).
  assert.equal(params.get('state'), s.provider.states.at(-1), 'state does not match the request');
  assert.equal(params.get('iss'), s.server.metadata.issuer, 'iss (RFC 9207) is not the issuer');
  assert.ok(params.get('code'), 'no code in the callback');
  return { code: params.get('code'), consent: result.consent };
}

describe(`TypeScript MCP SDK ${SDK_VERSION}: discovery, registration, PKCE, tools and refresh`, () => {
  let s;
  let client;
  let transport;
  const email = 'sdk-user@example.com';

  before(async () => {
    s = await setUp({ env: { ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) }, clientName: 'TypeScript SDK e2e' });
  });
  after(() => tearDown({ ...s, client }));

  it('the first request gets 401; the SDK discovers the PRM and AS metadata from it, registers, and sends the person to authorize with PKCE S256', async () => {
    const { log } = s.recorder;
    client = new Client({ name: 'mcp-oauth-e2e', version: '1.0.0' }, { capabilities: {} });
    transport = newTransport(s.mcpUrl, { provider: s.provider, fetch: s.recorder.fetch });
    await assert.rejects(client.connect(transport), UnauthorizedError);

    assert.deepEqual(
      summary(log),
      [
        'POST /mcp 401',
        'GET /.well-known/oauth-protected-resource/mcp 200',
        'GET /.well-known/oauth-authorization-server 200',
        `POST ${pathOf(s.server.metadata.registration_endpoint)} 201`,
      ],
      formatLog(log),
    );
    assert.equal(log[0].rpcMethod, 'initialize');
    assert.equal(log[0].bearer, false);
    const challenge = challengeParams(log[0].wwwAuthenticate);
    assert.equal(challenge.resource_metadata, s.server.at('/.well-known/oauth-protected-resource/mcp'));

    const registered = s.provider.clientInformation();
    assert.ok(registered?.client_id, 'the SDK saved no client_id');
    assert.equal(registered.client_secret, undefined, 'a public client gets no secret');
    assert.equal(registered.token_endpoint_auth_method, 'none');

    assert.equal(s.provider.authorizations.length, 1);
    const url = s.provider.authorizations[0];
    assert.equal(url.origin + url.pathname, s.server.metadata.authorization_endpoint);
    const q = url.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), registered.client_id);
    assert.equal(q.get('redirect_uri'), s.callback.redirectUri);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get('state'), s.provider.states[0]);
    assert.equal(q.get('resource'), s.mcpUrl);
    // SEP-835: the scope of the 401 challenge comes first.
    assert.deepEqual(sorted(q.get('scope')), sorted(challenge.scope));
  });

  it('the person signs up and consents in the browser; the SDK exchanges the code with its PKCE verifier', async () => {
    const { code, consent } = await personAuthorizes(s, 'sdk-first-authorization', {
      signUp: { email, password: PASSWORD },
      expectPages: ['sign in', 'check your email', 'consent'],
    });
    assert.equal(consent.heading, 'TypeScript SDK e2e wants to access your account');

    const mark = s.recorder.log.length;
    await transport.finishAuth(code);
    const exchange = s.recorder.log.slice(mark);
    assert.deepEqual(
      onlyMcpAndToken(exchange, s.server.metadata),
      ['POST token 200 authorization_code'],
      formatLog(exchange),
    );
    const tokenRequest = exchange.find((e) => e.path === pathOf(s.server.metadata.token_endpoint));
    for (const field of ['client_id', 'code', 'code_verifier', 'redirect_uri', 'resource']) {
      assert.ok(tokenRequest.params.includes(field), `the code exchange lacks ${field}: ${tokenRequest.params}`);
    }
    const tokens = s.provider.tokens();
    assert.ok(tokens?.access_token && tokens.refresh_token, 'the SDK saved no access and refresh token');
    assert.match(tokens.token_type, /^bearer$/i);
    assert.equal(tokens.expires_in, ACCESS_TOKEN_TTL);
  });

  it(`initialize negotiates ${PROTOCOL_VERSION}; tools/list; whoami returns the email that signed up; notes_add then notes_list shows the note`, async () => {
    const mark = s.recorder.log.length;
    transport = newTransport(s.mcpUrl, { provider: s.provider, fetch: s.recorder.fetch });
    await client.connect(transport);
    assert.equal(transport.protocolVersion, PROTOCOL_VERSION);

    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);

    const me = structured(await client.callTool({ name: 'whoami', arguments: {} }), 'whoami');
    assert.equal(me.email, email);
    assert.ok(me.user_id, 'whoami returned no user_id');

    const text = `remember the milk (${Date.now()})`;
    const added = structured(await client.callTool({ name: 'notes_add', arguments: { text } }), 'notes_add');
    assert.equal(added.text, text);
    const listed = structured(await client.callTool({ name: 'notes_list', arguments: {} }), 'notes_list');
    assert.deepEqual(
      listed.notes.map((n) => [n.id, n.text]),
      [[added.id, text]],
    );

    const calls = s.recorder.log.slice(mark);
    // All on the first access token: no 401, no refresh, so the next test's refresh is its own.
    assert.ok(
      calls.every((e) => e.path === '/mcp' && e.bearer && [200, 202, 405].includes(e.status)),
      formatLog(calls),
    );
    assert.deepEqual(
      calls.map((e) => e.rpcMethod ?? e.method),
      ['initialize', 'notifications/initialized', 'GET', 'tools/list', 'tools/call', 'tools/call', 'tools/call'],
      formatLog(calls),
    );
    // initialize goes without the header (there is no version yet); everything after carries it.
    assert.equal(calls[0].protocolVersion, undefined);
    assert.ok(
      calls.slice(1).every((e) => e.protocolVersion === PROTOCOL_VERSION),
      JSON.stringify(calls.map((e) => e.protocolVersion)),
    );
  });

  it('after the access token expires by the server clock, the next call gets 401 and the SDK refreshes with a rotated refresh token, then succeeds', async (t) => {
    const before = s.provider.tokens();
    // SDK 1.x refreshes only when a request comes back 401 (it ignores expires_in), so wait
    // until the server itself refuses the token: ask it, with a cheap tools/list, until it says
    // 401. The server accepts a token up to EXP_LEEWAY seconds past exp, hence the bound.
    const started = Date.now();
    let polls = 0;
    const refusal = await pollUntil(
      async () => {
        polls++;
        const res = await fetch(s.mcpUrl, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${before.access_token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': PROTOCOL_VERSION,
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: polls, method: 'tools/list' }),
        });
        await res.body?.cancel();
        if (res.status === 200) return null;
        assert.equal(res.status, 401, 'the old token was refused, but not with 401');
        return res.headers.get('www-authenticate');
      },
      { timeoutMs: (ACCESS_TOKEN_TTL + EXP_LEEWAY + 15) * 1000, intervalMs: 1000, what: 'the access token to expire' },
    );
    t.diagnostic(`the server refused the access token after ${Date.now() - started} ms (${polls} polls)`);
    assert.equal(challengeParams(refusal).error, 'invalid_token');

    const mark = s.recorder.log.length;
    const listed = structured(await client.callTool({ name: 'notes_list', arguments: {} }), 'notes_list');
    assert.equal(listed.notes.length, 1);

    const calls = s.recorder.log.slice(mark);
    t.diagnostic(`SDK requests: ${summary(calls).join(', ')}`);
    assert.deepEqual(
      onlyMcpAndToken(calls, s.server.metadata),
      ['POST /mcp 401', 'POST token 200 refresh_token', 'POST /mcp 200'],
      formatLog(calls),
    );
    const refresh = calls.find((e) => e.path === pathOf(s.server.metadata.token_endpoint));
    assert.ok(refresh.params.includes('resource'), `the refresh lacks resource: ${refresh.params}`);
    const after = s.provider.tokens();
    assert.notEqual(after.refresh_token, before.refresh_token, 'the refresh token was not rotated');
    assert.notEqual(after.access_token, before.access_token, 'the access token was not replaced');
  });
});

describe(`TypeScript MCP SDK ${SDK_VERSION}: step-up on 403 insufficient_scope`, () => {
  const NARROW = 'mcp:tools:read profile:read';
  let s;
  let client;
  let stepUpScope;
  const text = 'written after step-up';

  before(async () => {
    s = await setUp({ clientName: 'Narrow SDK client' });
  });
  after(() => tearDown({ ...s, client }));

  it(`a client authorised only for "${NARROW}" gets 403 insufficient_scope from tools/call notes_add, naming the wider scope`, async (t) => {
    // The app asks for less than the server offers: auth() with an explicit scope, the SDK's own
    // entry point for that (connect() would take the 401 challenge's full scope instead).
    assert.equal(await auth(s.provider, { serverUrl: s.mcpUrl, scope: NARROW, fetchFn: s.recorder.fetch }), 'REDIRECT');
    assert.deepEqual(sorted(s.provider.authorizations[0].searchParams.get('scope')), sorted(NARROW));
    const { code, consent } = await personAuthorizes(s, 'sdk-narrow-authorization', {
      signUp: { email: 'narrow@example.com', password: PASSWORD },
      expectPages: ['sign in', 'check your email', 'consent'],
    });
    assert.equal(consent.scopes.length, 2, `consent lists: ${consent.scopes}`);
    assert.equal(
      await auth(s.provider, { serverUrl: s.mcpUrl, authorizationCode: code, fetchFn: s.recorder.fetch }),
      'AUTHORIZED',
    );
    assert.deepEqual(sorted(s.provider.tokens().scope), sorted(NARROW));

    client = new Client({ name: 'mcp-oauth-e2e', version: '1.0.0' }, { capabilities: {} });
    await client.connect(newTransport(s.mcpUrl, { provider: s.provider, fetch: s.recorder.fetch }));
    // mcp:tools:read is enough to list.
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'notes_add'));

    const mark = s.recorder.log.length;
    await assert.rejects(client.callTool({ name: 'notes_add', arguments: { text } }), (e) => {
      assert.equal(e.code, 403, `expected the call to end in 403: ${e}`);
      return true;
    });
    const calls = s.recorder.log.slice(mark);
    t.diagnostic(`SDK requests: ${summary(calls).join(', ')}`);
    assert.equal(calls[0].path, '/mcp');
    assert.equal(calls[0].status, 403, formatLog(calls));
    const challenge = challengeParams(calls[0].wwwAuthenticate);
    assert.equal(challenge.error, 'insufficient_scope');
    assert.equal(challenge.resource_metadata, s.server.at('/.well-known/oauth-protected-resource/mcp'));
    // Every scope the call needs, the held ones included (the client asks for all at once).
    assert.deepEqual(sorted(challenge.scope), sorted(`${NARROW} mcp:tools:execute`));
    stepUpScope = challenge.scope;
    // SDK 1.x answers the 403 by refreshing, which can never widen a grant (RFC 6749 §6), gets
    // the same 403 and gives up ("403 after trying upscoping"; typescript-sdk issue #2255). Any
    // refresh it made must have kept the narrow scope: nothing was widened without consent.
    assert.deepEqual(sorted(s.provider.tokens().scope), sorted(NARROW));
  });

  it('after the person consents to the wider scope (consent shows again, signed in), the same call succeeds', async () => {
    assert.ok(stepUpScope, 'needs the challenge from the previous test');
    // The app's step-up: drop the narrow tokens (else the SDK would only refresh them again) and
    // authorize with the challenge's scope.
    s.provider.forgetTokens();
    assert.equal(
      await auth(s.provider, { serverUrl: s.mcpUrl, scope: stepUpScope, fetchFn: s.recorder.fetch }),
      'REDIRECT',
    );
    assert.deepEqual(sorted(s.provider.authorizations.at(-1).searchParams.get('scope')), sorted(stepUpScope));
    const { code, consent } = await personAuthorizes(s, 'sdk-step-up', { expectPages: ['consent'] });
    assert.ok(consent.scopes.includes('Run tools on your behalf'), `consent lists: ${consent.scopes}`);
    assert.equal(
      await auth(s.provider, { serverUrl: s.mcpUrl, authorizationCode: code, fetchFn: s.recorder.fetch }),
      'AUTHORIZED',
    );
    assert.deepEqual(sorted(s.provider.tokens().scope), sorted(stepUpScope));

    // The same connection: the transport reads the provider's tokens on every request.
    const added = structured(await client.callTool({ name: 'notes_add', arguments: { text } }), 'notes_add');
    assert.equal(added.text, text);
    const listed = structured(await client.callTool({ name: 'notes_list', arguments: {} }), 'notes_list');
    assert.deepEqual(
      listed.notes.map((n) => n.text),
      [text],
    );
  });
});
