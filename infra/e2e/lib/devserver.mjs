// The dev server for end-to-end tests: starts the already-built binary (`target/debug/devserver`,
// built by test.sh) on a free loopback port with a fresh, empty embedded store, waits until it
// answers, and stops it again.
//
// Not for: building the server (test.sh runs `cargo build -p devserver` first) or talking OAuth
// (see oauth.mjs).

import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerOutbox } from './mail.mjs';
import { freePort, ROOT, withTimeout } from './util.mjs';

/** The binary to run: DEVSERVER_BIN, else <CARGO_TARGET_DIR or target>/debug/devserver. */
export function devserverBinary() {
  if (process.env.DEVSERVER_BIN) return process.env.DEVSERVER_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
  return join(target, 'debug', 'devserver');
}

// The line the dev server prints once its listener is bound (see infra/devserver/src/serve.rs):
// seeing it is the readiness event, so no polling is needed.
const READY_LINE = /authorization server:\s+(\S+)\/\.well-known\/oauth-authorization-server/;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * A running dev server.
 * - `url`: its public URL, http://localhost:<port> (also the issuer), which the browser uses;
 * - `metadata`: its authorization server metadata (RFC 8414);
 * - `outbox`: the folder its mail goes to (verification codes, reset links; see mail.mjs);
 * - `output()`: everything it printed so far, for failure messages;
 * - `stop()`: end it and delete its store.
 */
export class DevServer {
  constructor({ child, port, dir, lines }) {
    this.child = child;
    this.port = port;
    this.dir = dir;
    this.lines = lines;
    this.url = `http://localhost:${port}`;
    this.outbox = join(dir, 'outbox');
    this.metadata = null;
  }

  output() {
    return this.lines.join('');
  }

  /** Absolute URL for a path on this server. */
  at(path) {
    return new URL(path, this.url).toString();
  }

  async stop() {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      try {
        await withTimeout(exited, STOP_TIMEOUT_MS, 'dev server to exit after SIGTERM');
      } catch {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Start one dev server (one retry on a new port if the chosen one was taken meanwhile). */
export async function startDevServer({ env = {} } = {}) {
  const bin = devserverBinary();
  try {
    await access(bin);
  } catch {
    throw new Error(`dev server binary not found at ${bin}: run \`cargo build -p devserver\` first`);
  }
  let lastError;
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      return await startOnce(bin, env);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

async function startOnce(bin, extraEnv) {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'mcp-oauth-e2e-'));
  const publicUrl = `http://localhost:${port}`;
  const env = { ...process.env };
  // A developer's own settings must not leak into the test server.
  for (const k of Object.keys(env)) {
    if (k.startsWith('AWS_') || k === 'DYNAMODB_ENDPOINT' || k === 'TABLE_PREFIX') delete env[k];
  }
  Object.assign(env, {
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    STORE: 'embedded',
    STORE_PATH: join(dir, 'store.redb'),
    OUTBOX_DIR: join(dir, 'outbox'),
    LOG_FORMAT: 'text',
    ...extraEnv,
  });
  const child = spawn(bin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const server = new DevServer({ child, port, dir, lines });
  registerOutbox(server.url, server.outbox);
  // Never leave a dev server behind, even if the test process dies on an uncaught error.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));

  const ready = new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s) => lines.push(s));
    child.stdout.on('data', (s) => {
      lines.push(s);
      stdout += s;
      const m = READY_LINE.exec(stdout);
      if (m) resolve(m[1]);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`dev server exited early (code ${code}, signal ${signal}):\n${server.output()}`)),
    );
  });
  try {
    const issuer = await withTimeout(ready, START_TIMEOUT_MS, 'dev server to print its URLs');
    if (issuer !== publicUrl) throw new Error(`dev server announced ${issuer}, expected ${publicUrl}`);
    // The listener is bound before that line is printed; one request proves it serves.
    const res = await fetch(`${publicUrl}/.well-known/oauth-authorization-server`);
    if (res.status !== 200) throw new Error(`metadata answered ${res.status}`);
    server.metadata = await res.json();
    return server;
  } catch (e) {
    await server.stop();
    throw e;
  }
}
