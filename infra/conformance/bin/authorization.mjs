#!/usr/bin/env node
// Runs `conformance authorization` against our authorization server and completes its interactive
// step the way a user would: the suite prints an authorization URL and waits for its callback
// server to receive the redirect; this script signs a new user up on our login page, approves
// consent over plain HTTP (lib/oauth.mjs), and delivers the redirect to the callback server.
//
//   node bin/authorization.mjs --issuer URL --resource URL --port CALLBACK_PORT --out DIR
//
// Exits with the suite's exit status. Its output goes to stdout as it comes.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { registerClient, signUpAndApprove } from '../lib/oauth.mjs';

const { values } = parseArgs({
  options: {
    issuer: { type: 'string' },
    resource: { type: 'string' },
    port: { type: 'string' },
    out: { type: 'string' },
  },
});
if (!values.issuer || !values.resource || !values.port || !values.out) {
  console.error('usage: authorization.mjs --issuer URL --resource URL --port PORT --out DIR');
  process.exit(2);
}

// The suite needs a pre-registered client whose redirect URI is its callback server.
const clientId = await registerClient(values.issuer, `http://127.0.0.1:${values.port}/callback`);
const cli = fileURLToPath(new URL('../node_modules/@modelcontextprotocol/conformance/dist/index.js', import.meta.url));
const args = [
  cli, 'authorization',
  '--url', values.issuer,
  '--client-id', clientId,
  '--resource', values.resource,
  '--port', values.port,
  '--output-dir', values.out,
];
console.log(`$ conformance ${args.slice(1).join(' ')}`);
const suite = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });

const authorizeEndpoint = new URL('/oauth/authorize', values.issuer).toString();
let logins = Promise.resolve();
createInterface({ input: suite.stdout }).on('line', (line) => {
  console.log(line);
  const url = line.trim();
  if (!url.startsWith(`${authorizeEndpoint}?`)) return;
  logins = logins.then(async () => {
    try {
      const redirect = await signUpAndApprove(url);
      const res = await fetch(redirect);
      console.log(`[login] signed up, approved consent, delivered the redirect (callback answered ${res.status})`);
    } catch (e) {
      console.error(`[login] could not complete the login: ${e.message}`);
    }
  });
});

const status = await new Promise((resolve) => suite.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
await logins;
process.exit(status);
