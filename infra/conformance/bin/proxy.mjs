#!/usr/bin/env node
// A loopback reverse proxy that adds `Authorization: Bearer <token>` to every request for /mcp.
// The conformance suite's `server` mode cannot send a token, and our MCP endpoint requires one;
// the proxy is the suite's front door, as API Gateway is in production, so the server's public
// URL is the proxy's. Everything else (Host, Origin, body, streamed answers) passes unchanged.
//
//   node bin/proxy.mjs --listen PORT --target http://127.0.0.1:UPSTREAM --token-file FILE
//
// Not for: anything but loopback; it never logs the token.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    target: { type: 'string' },
    'token-file': { type: 'string' },
  },
});
if (!values.listen || !values.target || !values['token-file']) {
  console.error('usage: proxy.mjs --listen PORT --target URL --token-file FILE');
  process.exit(2);
}
const target = new URL(values.target);
const token = readFileSync(values['token-file'], 'utf8').trim();

const server = http.createServer((req, res) => {
  const headers = { ...req.headers };
  if (new URL(req.url, 'http://proxy').pathname.startsWith('/mcp')) {
    headers.authorization = `Bearer ${token}`;
  }
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy: upstream failed: ${e.message}`);
  });
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
});

server.listen(Number(values.listen), '127.0.0.1', () => {
  console.log(`bearer proxy on http://127.0.0.1:${values.listen} -> ${target.origin}`);
});
