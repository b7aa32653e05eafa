#!/usr/bin/env node
// Obtains a real access token through the real flow (registration, sign-up, consent, token
// endpoint; see lib/oauth.mjs) and writes it to a file readable only by its owner. The token is
// never printed.
//
//   node bin/token.mjs --base http://127.0.0.1:PORT --resource URL --out FILE

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { accessToken } from '../lib/oauth.mjs';

const { values } = parseArgs({
  options: { base: { type: 'string' }, resource: { type: 'string' }, out: { type: 'string' } },
});
if (!values.base || !values.resource || !values.out) {
  console.error('usage: token.mjs --base URL --resource URL --out FILE');
  process.exit(2);
}
const token = await accessToken(values.base, values.resource);
writeFileSync(values.out, token, { mode: 0o600 });
console.log(`access token for ${values.resource} written to ${values.out}`);
