// The MCP client side of the end-to-end tests, with the official TypeScript SDK
// (`@modelcontextprotocol/sdk`, pinned in package.json): an in-memory `OAuthClientProvider`, a
// `fetch` wrapper that records what the SDK sent and got (without a single secret), and its
// Streamable HTTP transport wired to both.
//
// Not for: the person's part (signing in and consenting in the browser, see pages.mjs) or the
// callback server (client.mjs). Nothing here stands in for the server: every request goes to it.

import { randomBytes } from 'node:crypto';

import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * A `fetch` for the SDK that records each exchange in `log`, as
 * `{ method, path, status, grantType, rpcMethod, bearer, protocolVersion, wwwAuthenticate, params }`:
 * - `grantType`: the `grant_type` of a token request (else undefined);
 * - `rpcMethod`: the JSON-RPC `method` of a JSON POST (else undefined);
 * - `bearer`: whether an `Authorization: Bearer` header was sent;
 * - `params`: the *names* of the form fields of a form POST (values hold codes and tokens);
 * - `protocolVersion`: the `MCP-Protocol-Version` request header, if any.
 * Tokens, codes and verifiers never enter the log, so it can be printed on failure.
 */
export function recordingFetch() {
  const log = [];
  async function recorded(input, init = {}) {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const entry = {
      method: request.method,
      path: url.pathname,
      status: undefined,
      grantType: undefined,
      rpcMethod: undefined,
      params: undefined,
      bearer: /^bearer /i.test(request.headers.get('authorization') ?? ''),
      protocolVersion: request.headers.get('mcp-protocol-version') ?? undefined,
      wwwAuthenticate: undefined,
    };
    if (request.method === 'POST' && /x-www-form-urlencoded/.test(request.headers.get('content-type') ?? '')) {
      const form = new URLSearchParams(await request.clone().text());
      entry.params = [...form.keys()].sort();
      entry.grantType = form.get('grant_type') ?? undefined;
    } else if (request.method === 'POST' && /json/.test(request.headers.get('content-type') ?? '')) {
      const body = JSON.parse(await request.clone().text());
      entry.rpcMethod = Array.isArray(body) ? 'batch' : body.method;
    }
    log.push(entry);
    const response = await fetch(request);
    entry.status = response.status;
    entry.wwwAuthenticate = response.headers.get('www-authenticate') ?? undefined;
    return response;
  }
  return { fetch: recorded, log };
}

/** One line per exchange of a recorded log, for assertion messages. */
export function formatLog(log) {
  return log
    .map((e) => {
      const what = e.grantType ? ` (grant_type=${e.grantType})` : e.rpcMethod ? ` (${e.rpcMethod})` : '';
      return `${e.method} ${e.path}${what} -> ${e.status}`;
    })
    .join('\n');
}

/**
 * An `OAuthClientProvider` (SDK interface) keeping everything in memory, for a public client
 * that registers itself dynamically with `redirectUrl` as its one redirect URI.
 * - `authorizations`: every authorization URL the SDK sent the person to, in order;
 * - `states`: the `state` values it handed out, in order (the app checks the callback's);
 * - `onAuthorization(url)`: called for each of those URLs (may be set later);
 * - `forgetTokens()`: what an app does before a step-up: drop the tokens so that the next
 *   `auth()` asks the person, where the SDK would otherwise only refresh them.
 */
export class InMemoryOAuthProvider {
  constructor({ redirectUrl, clientName, onAuthorization }) {
    this._redirectUrl = redirectUrl;
    this._clientName = clientName;
    this.onAuthorization = onAuthorization;
    this.authorizations = [];
    this.states = [];
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this._discovery = undefined;
  }

  get redirectUrl() {
    return this._redirectUrl;
  }

  get clientMetadata() {
    return {
      client_name: this._clientName,
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // A public client (a desktop app or CLI): PKCE instead of a secret.
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    const state = randomBytes(16).toString('base64url');
    this.states.push(state);
    return state;
  }

  clientInformation() {
    return this._client;
  }

  saveClientInformation(info) {
    this._client = info;
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    this._tokens = tokens;
  }

  async redirectToAuthorization(url) {
    this.authorizations.push(new URL(url));
    await this.onAuthorization?.(new URL(url));
  }

  saveCodeVerifier(verifier) {
    this._verifier = verifier;
  }

  codeVerifier() {
    if (!this._verifier) throw new Error('no PKCE verifier saved');
    return this._verifier;
  }

  saveDiscoveryState(state) {
    this._discovery = state;
  }

  discoveryState() {
    return this._discovery;
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this._client = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
  }

  forgetTokens() {
    this._tokens = undefined;
  }
}

/** A new SDK transport for `url` with the provider and the recording fetch. */
export function newTransport(url, { provider, fetch }) {
  return new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch });
}
