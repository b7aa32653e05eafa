//! The frame every page shares: the document head, the one stylesheet and the Content-Security-
//! Policy that allows it by hash, and small pieces several pages use (hidden fields, alerts).
//!
//! Not for: page content; each page lives in its own module.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use super::Hidden;

/// The only CSS on any page. The CSP allows exactly this text by its SHA-256, so any edit here
/// changes the hash automatically; inline `style="…"` attributes would be blocked and must not be
/// used.
pub const CSS: &str = r#"
:root {
  color-scheme: light dark;
  --bg: #f3f4f6; --card: #ffffff; --text: #111827; --muted: #4b5563; --border: #d1d5db;
  --field: #ffffff; --accent: #1d4ed8; --accent-hover: #1e40af; --on-accent: #ffffff;
  --link: #1d4ed8; --soft: #f9fafb; --alert-bg: #fef2f2; --alert-border: #fca5a5;
  --alert-text: #991b1b; --note-bg: #eff6ff; --note-border: #bfdbfe; --ok: #15803d;
  --shadow: 0 1px 3px rgba(0, 0, 0, .08), 0 8px 24px rgba(0, 0, 0, .06);
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0b0f17; --card: #161b26; --text: #f3f4f6; --muted: #a1a7b3; --border: #3a4252;
    --field: #0f141e; --accent: #2563eb; --accent-hover: #1d4ed8; --link: #93c5fd;
    --soft: #1c2230; --alert-bg: #3b1219; --alert-border: #7f1d1d; --alert-text: #fecaca;
    --note-bg: #14213d; --note-border: #1e3a8a; --ok: #4ade80; --shadow: none;
  }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; min-height: 100vh; display: flex; align-items: flex-start; justify-content: center;
  padding: 1rem; background: var(--bg); color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", sans-serif;
}
@media (min-width: 480px) and (min-height: 640px) { body { padding: 10vh 1rem 2rem; } }
main {
  width: 100%; max-width: 26rem; background: var(--card); border: 1px solid var(--border);
  border-radius: 14px; box-shadow: var(--shadow); padding: 2rem 1.5rem;
  overflow-wrap: anywhere;
}
@media (min-width: 480px) { main { padding: 2.25rem 2.25rem 2rem; } }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 .375rem; font-weight: 650; }
h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; font-weight: 600; }
p { margin: 0 0 1rem; }
.sub { color: var(--muted); margin-bottom: 1.5rem; }
.sub strong, h1 strong { color: var(--text); }
.alert {
  background: var(--alert-bg); border: 1px solid var(--alert-border); color: var(--alert-text);
  border-radius: 8px; padding: .75rem 1rem; margin: 0 0 1.25rem;
}
form { margin: 0; }
label { display: block; font-weight: 600; margin: 0 0 .375rem; }
.field { margin-bottom: 1.125rem; }
input[type=email], input[type=password], input[type=text] {
  display: block; width: 100%; min-height: 3rem; padding: .625rem .875rem;
  font: inherit; color: var(--text); background: var(--field);
  border: 1px solid var(--border); border-radius: 8px;
}
input:focus { outline: none; border-color: var(--accent); box-shadow: 0 0 0 3px rgba(37, 99, 235, .35); }
.rules { margin: .5rem 0 0; padding-left: 1.25rem; color: var(--muted); font-size: .9375rem; }
button, a.button {
  display: block; width: 100%; min-height: 3rem; padding: .625rem 1rem; font: inherit;
  box-sizing: border-box; text-align: center; text-decoration: none; line-height: 1.75rem;
  font-weight: 600; border-radius: 8px; cursor: pointer; border: 1px solid var(--border);
  background: var(--card); color: var(--text);
}
button:hover { background: var(--soft); }
button:focus-visible, .link:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.primary { background: var(--accent); border-color: var(--accent); color: var(--on-accent); }
.primary:hover { background: var(--accent-hover); border-color: var(--accent-hover); }
.providers button + button { margin-top: .625rem; }
.or {
  display: flex; align-items: center; gap: .75rem; margin: 1.25rem 0; color: var(--muted);
  font-size: .875rem;
}
.or::before, .or::after { content: ""; flex: 1; border-top: 1px solid var(--border); }
.switch {
  margin-top: 1.5rem; padding-top: 1.25rem; border-top: 1px solid var(--border);
  color: var(--muted); text-align: center;
}
.switch p { margin: 0; }
.link {
  display: inline; width: auto; min-height: 0; padding: .5rem 0; margin: -.5rem 0;
  border: 0; background: none; color: var(--link); font-weight: 600;
  text-decoration: underline; text-underline-offset: 2px;
}
.link:hover { background: none; text-decoration-thickness: 2px; }
.avatar {
  width: 3rem; height: 3rem; border-radius: 12px; display: flex; align-items: center;
  justify-content: center; margin: 0 0 1rem; background: var(--accent); color: var(--on-accent);
  font-size: 1.5rem; font-weight: 700;
}
.account { color: var(--muted); font-size: .9375rem; }
.account strong { color: var(--text); }
.warn { background: var(--alert-bg); color: var(--alert-text); border: 1px solid var(--alert-border); }
.scopes { list-style: none; padding: 0; margin: 0 0 1rem; }
.scopes li { position: relative; padding: .625rem 0 .625rem 2rem; border-top: 1px solid var(--border); }
.scopes li:last-child { border-bottom: 1px solid var(--border); }
.scopes li::before {
  content: "\2713"; position: absolute; left: .25rem; top: .625rem; color: var(--ok);
  font-weight: 700;
}
.note {
  background: var(--note-bg); border: 1px solid var(--note-border); border-radius: 8px;
  padding: .75rem 1rem;
}
.actions { display: flex; gap: .75rem; margin: 1.5rem 0 1rem; }
.actions button { flex: 1; }
.fine { color: var(--muted); font-size: .875rem; margin: 0; }
.forgot { margin-top: 1rem; text-align: center; }
.apps { list-style: none; padding: 0; margin: 0 0 1rem; }
.apps > li {
  border: 1px solid var(--border); border-radius: 10px; padding: .875rem 1rem; margin-bottom: .75rem;
}
.apps .host { color: var(--muted); font-size: .9375rem; }
.apps .scopes { margin: .5rem 0; }
"#;

/// `'sha256-<base64>'` of [`CSS`], the CSP source that allows exactly that style block.
pub fn style_hash() -> &'static str {
    static HASH: LazyLock<String> = LazyLock::new(|| {
        // CSP hash sources are standard base64 with padding, not base64url.
        format!("'sha256-{}'", STANDARD.encode(Sha256::digest(CSS.as_bytes())))
    });
    &HASH
}

/// The Content-Security-Policy of every HTML page.
pub fn content_security_policy() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        // Nothing loads but the hashed style block (no script at all), no page may frame ours
        // (clickjacking of consent), and no <base> can redirect relative form actions.
        // Deliberately no form-action: Chrome applies it to the redirect that follows a form
        // POST, which would block the redirect to the client's redirect_uri after consent.
        format!(
            "default-src 'none'; style-src {}; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
            style_hash()
        )
    });
    &CSP
}

/// A complete HTML document around `body`, titled `title`.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Authorization pages have nothing for search engines, and their URLs carry state.
                meta name="robots" content="noindex, nofollow";
                // An empty icon, so browsers do not request /favicon.ico from the API.
                link rel="icon" href="data:,";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main { (body) }
            }
        }
    }
}

/// The pending request's hidden fields plus the CSRF token, for the inside of every form.
pub fn hidden_fields(hidden: Hidden, csrf: &str) -> Markup {
    html! {
        @for (name, value) in hidden {
            input type="hidden" name=(name) value=(value);
        }
        input type="hidden" name="csrf" value=(csrf);
    }
}

/// A confirmation (not an error), announced politely.
pub fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.note role="status" { (message) }
        }
    }
}

/// An error message that screen readers announce as soon as the page loads.
pub fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            div.alert role="alert" { (message) }
        }
    }
}
