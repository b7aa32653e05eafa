//! The error page shown when the authorize flow cannot continue and must not redirect.
//!
//! It offers no link anywhere: when a request's client or redirect URI is not verified, sending
//! the user back would be an open redirect.
//!
//! Not for: errors that are redirected to a verified redirect URI (see `authorize`).

use maud::{Markup, html};

use super::layout::page;

/// An error page, e.g. `error("This sign-in link is not valid", "…")`.
pub fn error(title: &str, message: &str) -> Markup {
    let body = html! {
        div.avatar.warn aria-hidden="true" { "!" }
        h1 { (title) }
        p.sub { (message) }
        p.fine { "You can close this window and start again from the app you were using." }
    };
    page(title, body)
}

/// An error page with one way forward: `retry` restarts the same authorization request at this
/// server's authorize endpoint (a relative link, so it can only lead back here, where the request
/// is validated again).
pub fn error_with_retry(title: &str, message: &str, retry: &str) -> Markup {
    let body = html! {
        div.avatar.warn aria-hidden="true" { "!" }
        h1 { (title) }
        p.sub { (message) }
        a.button.primary href=(retry) { "Try again" }
        p.fine { "Or close this window and start again from the app you were using." }
    };
    page(title, body)
}
