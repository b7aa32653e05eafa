// The real OAuth flow over plain HTTP, as a browser without JavaScript walks it: register a client
// (RFC 7591), open the authorize URL, sign a new user up on the login page, approve the consent
// page, and take the redirect; then redeem the code at the token endpoint with PKCE.
//
// Cookies are carried by hand: the login pages set `__Host-` cookies over http://127.0.0.1, which
// browsers keep on loopback and most non-browser cookie jars drop.
//
// Not for: the conformance suite's own client (it runs its own flow against our metadata).

import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PASSWORD = 'correct horse battery staple';

export function randomEmail() {
  return `conformance-${randomBytes(6).toString('hex')}@example.com`;
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** Registers a public client (PKCE, no secret) whose one redirect URI is `redirectUri`. */
export async function registerClient(base, redirectUri, name = 'MCP conformance run') {
  const res = await fetch(`${base}/api/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: name,
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 201 || typeof body.client_id !== 'string') {
    throw new Error(`client registration answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.client_id;
}

/** The value of every `<input name=… value=…>` in a page, by name (hidden fields included). */
function inputs(html) {
  const out = new Map();
  for (const [tag] of html.matchAll(/<input\b[^>]*>/g)) {
    const attr = (name) => {
      const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`));
      return m ? unescapeHtml(m[1]) : undefined;
    };
    const name = attr('name');
    const value = attr('value');
    if (name !== undefined && value !== undefined) out.set(name, value);
  }
  return out;
}

function unescapeHtml(s) {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

/** A browser without JavaScript: a cookie jar, no automatic redirects. */
class Browser {
  cookies = new Map();

  async send(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const set of res.headers.getSetCookie()) {
      const [pair, ...attrs] = set.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || attrs.some((a) => a.trim().toLowerCase() === 'max-age=0')) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  }

  /** Submits the page's form: its hidden inputs plus `fields`, with `action` naming the button. */
  async submit(formUrl, page, action, fields = {}) {
    const values = inputs(page.text);
    values.delete('email');
    values.delete('password');
    for (const [k, v] of Object.entries(fields)) values.set(k, v);
    values.set('action', action);
    return this.send(formUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([...values]).toString(),
    });
  }
}

/** The verification code the dev server mailed to `email`: the newest message in its outbox. */
export async function mailedCode(email, dir = process.env.OUTBOX_DIR) {
  if (!dir) throw new Error('OUTBOX_DIR is unset: the dev server and this script must share an outbox');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.eml')).sort().reverse();
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8');
    if (!text.startsWith(`To: ${email}\n`)) continue;
    const m = /Your verification code is: (\d{6})/.exec(text);
    if (m) return m[1];
  }
  throw new Error(`no verification code for ${email} in ${dir}`);
}

function expect(page, status, what) {
  if (page.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${page.status}: ${page.text.slice(0, 400)}`);
  }
  return page;
}

/**
 * Signs a new user up at `authorizeUrl`'s login page and approves consent; returns the URL the
 * server redirects to (the client's redirect URI with `code`, `state` and `iss`).
 */
export async function signUpAndApprove(authorizeUrl, email = randomEmail(), password = PASSWORD) {
  const browser = new Browser();
  const formUrl = new URL('/oauth/authorize', authorizeUrl).toString();
  const login = expect(await browser.send(authorizeUrl), 200, 'login page');
  const signup = expect(await browser.submit(formUrl, login, 'show_signup'), 200, 'sign-up page');
  const verify = expect(await browser.submit(formUrl, signup, 'signup', { email, password }), 200, 'verification page');
  const code = await mailedCode(email);
  const consent = expect(await browser.submit(formUrl, verify, 'verify_email', { code }), 200, 'consent page');
  const done = expect(await browser.submit(formUrl, consent, 'approve'), 303, 'approval');
  if (!done.location) throw new Error('the approval redirect has no Location');
  return done.location;
}

/** A new user's access token for `resource`, through registration, the pages and the token endpoint. */
export async function accessToken(base, resource, scope = 'mcp:tools:read mcp:tools:execute profile:read') {
  const redirectUri = 'http://127.0.0.1:9/callback';
  const clientId = await registerClient(base, redirectUri);
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL('/oauth/authorize', base);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    resource,
    scope,
  }).toString();
  const back = new URL(await signUpAndApprove(authorize.toString()));
  if (back.searchParams.get('state') !== state) throw new Error('the authorization response lost its state');
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code in the authorization response: ${back.search}`);
  const res = await fetch(`${base}/api/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      resource,
    }).toString(),
  });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`the token endpoint answered ${res.status}: ${body.error ?? ''} ${body.error_description ?? ''}`);
  }
  return body.access_token;
}
