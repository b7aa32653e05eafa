// A stand-in OAuth client for end-to-end tests: a loopback HTTP server whose /callback records
// every query it receives (the authorization response) and shows a small page.
//
// Not for: registering the client or exchanging codes (see oauth.mjs).

import { createServer } from 'node:http';

/**
 * Start the callback server on 127.0.0.1 and a kernel-chosen port.
 * - `redirectUri`: http://127.0.0.1:<port>/callback
 * - `received`: the URLSearchParams of each request to /callback, in order
 * - `close()`
 */
export async function startCallbackServer() {
  const received = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    received.push(url.searchParams);
    const ok = url.searchParams.has('code');
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(`<!DOCTYPE html><title>Callback</title><h1>${ok ? 'Signed in' : 'Not signed in'}</h1>`);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    origin: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
