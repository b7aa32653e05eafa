// The dev server's outbox, read as a person reads their email: each message is a small `.eml`
// text file in a folder (OUTBOX_DIR) that the dev server writes before it answers the request
// that sent it.
//
// Not for: starting the dev server (devserver.mjs) or filling in pages (pages.mjs).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Outbox folders of the running dev servers, by their public origin. */
const outboxes = new Map();

export function registerOutbox(origin, dir) {
  outboxes.set(new URL(origin).origin, dir);
}

/** The outbox of the dev server at `url`'s origin. */
export function outboxFor(url) {
  const dir = outboxes.get(new URL(url).origin);
  if (!dir) throw new Error(`no dev server outbox is known for ${url}`);
  return dir;
}

/** Every message to `to` in `dir`, oldest first, as text. */
export async function mailsTo(dir, to) {
  let names = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.eml')).sort();
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  const out = [];
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8');
    if (text.startsWith(`To: ${to}\n`)) out.push(text);
  }
  return out;
}

async function newest(dir, to, pattern, what) {
  const mails = await mailsTo(dir, to);
  for (const text of mails.reverse()) {
    const m = pattern.exec(text);
    if (m) return m[1];
  }
  throw new Error(`no ${what} for ${to} in ${dir} (${mails.length} messages)`);
}

/** The newest verification code mailed to `to`. */
export const mailedCode = (dir, to) => newest(dir, to, /Your verification code is: (\d{6})/, 'verification code');

/** The newest password-reset link mailed to `to`. */
export const mailedResetLink = (dir, to) => newest(dir, to, /(http\S+\/oauth\/reset\?token=\S+)/, 'reset link');
