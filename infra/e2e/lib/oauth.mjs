// The OAuth client side of the end-to-end tests, with plain fetch: dynamic client registration,
// PKCE (S256) and state, the authorize URL, and the code exchange.
//
// Not for: the browser part of the flow (the tests drive that) or checking the server's answers
// (the tests assert those).

import { createHash, randomBytes } from 'node:crypto';

const b64url = (buf) => buf.toString('base64url');

/** A fresh PKCE pair: `verifier` (43 chars of base64url) and its S256 `challenge`. */
export function pkce() {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

/** A fresh random `state`. */
export const randomState = () => b64url(randomBytes(16));

/** Register a public client (RFC 7591) at the server's registration endpoint; returns its JSON. */
export async function registerPublicClient(metadata, { clientName, redirectUri }) {
  const res = await fetch(metadata.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: clientName,
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`registration answered ${res.status}: ${body}`);
  return JSON.parse(body);
}

/**
 * One authorization request: its URL, and the `state` and PKCE `verifier` the client keeps for
 * the response.
 */
export function authorizationRequest(metadata, { clientId, redirectUri, resource, scope }) {
  const { verifier, challenge } = pkce();
  const state = randomState();
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource,
    scope,
  }).toString();
  return { url: url.toString(), state, verifier };
}

/** Exchange an authorization code at the token endpoint; returns `{ status, body }`. */
export async function exchangeCode(metadata, { clientId, redirectUri, code, verifier, resource }) {
  const res = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      redirect_uri: redirectUri,
      code,
      code_verifier: verifier,
      resource,
    }).toString(),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}
