// A real OpenID Connect provider on loopback for the upstream sign-in tests: node's
// `oidc-provider` (pinned in package.json) with its built-in development interactions (a login
// form that accepts any login, a consent page, and a "[ Cancel ]" link that aborts with
// access_denied). One confidential client, which is the dev server signing its users in.
//
// Not for: anything about our own server (devserver.mjs) or the MCP client side (oauth.mjs).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

/** The email the provider asserts, verified, for a login name. */
export const emailOf = (login) => `${login}@idp.example`;

/**
 * Listen on 127.0.0.1 and a kernel-chosen port, so the issuer URL is known before anything else
 * starts; the provider itself is configured later by `serve()`, once the dev server's callback
 * URL (which depends on its own port) is known. Until then every request answers 503.
 *
 * Options: `idTokenAlg` ('RS256' (default), 'PS256', 'ES256' or 'EdDSA'); `emailInIdToken` (default
 * false: the email comes from userinfo only, as the code flow's default); `emailVerified`
 * (default true).
 *
 * - `issuer`: http://127.0.0.1:<port>
 * - `clientId`, `clientSecret`: the client the dev server uses at this provider
 * - `requests`: every request it received, in order, as `{ method, path, auth }` where `auth` is
 *   the Authorization header's scheme ('Basic', 'Bearer' or '')
 * - `providerEnv(id, name)`: the dev server's environment for this provider (OIDC_PROVIDERS=<id>, ...)
 * - `serve({ redirectUri })`: configure the provider with the client's redirect URI and start answering
 * - `close()`
 */
export async function startIdp({ idTokenAlg = 'RS256', emailInIdToken = false, emailVerified = true } = {}) {
  let handler = null;
  const requests = [];
  const http = createServer((req, res) => {
    requests.push({
      method: req.method,
      path: new URL(req.url, 'http://idp').pathname,
      // Only the scheme: the credentials themselves stay out of test output.
      auth: (req.headers.authorization ?? '').split(' ')[0],
    });
    if (handler) return handler(req, res);
    res.writeHead(503, { 'content-type': 'text/plain' }).end('identity provider not configured yet');
  });
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  // 127.0.0.1 rather than localhost: the browser keeps this provider's cookies apart from the dev
  // server's (cookies ignore ports, and the dev server is on localhost).
  const issuer = `http://127.0.0.1:${http.address().port}`;
  const clientId = 'mcp-oauth-devserver';
  const clientSecret = randomBytes(24).toString('base64url');

  return {
    issuer,
    clientId,
    clientSecret,
    requests,

    providerEnv(id, name) {
      const ID = id.toUpperCase().replaceAll('-', '_');
      return {
        OIDC_PROVIDERS: id,
        [`OIDC_${ID}_ISSUER`]: issuer,
        [`OIDC_${ID}_CLIENT_ID`]: clientId,
        [`OIDC_${ID}_CLIENT_SECRET`]: clientSecret,
        [`OIDC_${ID}_NAME`]: name,
      };
    },

    serve({ redirectUri }) {
      const provider = new Provider(
        issuer,
        configuration({ clientId, clientSecret, redirectUri, idTokenAlg, emailInIdToken, emailVerified }),
      );
      handler = provider.callback();
      return provider;
    },

    close: () =>
      new Promise((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

function configuration({ clientId, clientSecret, redirectUri, idTokenAlg, emailInIdToken, emailVerified }) {
  // Our own signing keys (so the provider does not fall back to its warned-about development
  // key): RSA for RS256/PS256, P-256 for ES256, Ed25519 for EdDSA; each ID token names its kid.
  const jwk = (kid, type, options) => ({
    ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
    kid,
    use: 'sig',
  });
  const keys = [
    jwk('e2e-rsa', 'rsa', { modulusLength: 2048 }),
    jwk('e2e-p256', 'ec', { namedCurve: 'P-256' }),
    jwk('e2e-ed25519', 'ed25519'),
  ];
  return {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        // What the oauth2 crate sends by default.
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: idTokenAlg,
      },
    ],
    jwks: { keys },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // The default SameSite=None needs Secure, which cookies over plain http (loopback only
      // here) cannot have, so the browser would drop them. Every step at this provider is a
      // top-level navigation, which Lax allows.
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // Any login the development login form accepts is an account, with a verified email.
    async findAccount(ctx, accountId) {
      return {
        accountId,
        async claims() {
          return { sub: accountId, email: emailOf(accountId), email_verified: emailVerified, name: accountId };
        },
      };
    },
    features: {
      devInteractions: { enabled: true },
    },
    pkce: { methods: ['S256'], required: () => true },
    // Lifetimes in seconds, short like a real provider's (and set, so it does not warn about them).
    ttl: { AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    // The default (true) leaves email out of the ID token of the code flow, so our side must read
    // it from the userinfo endpoint, as with many real providers; false puts it in the ID token.
    conformIdTokenClaims: !emailInIdToken,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><title>IdP error</title><h1>IdP error</h1><pre>${escape(JSON.stringify(out))}</pre>`;
    },
  };
}

const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
