//! The account page: the apps connected to the account (each with what it may do, since when,
//! when last used, and a Revoke button), "Sign out everywhere", and "Delete my account" with its
//! confirmation; and the sign-in form for reaching the page directly.
//!
//! Not for: listing grants or acting on the buttons (see `authorize::account`).

use maud::{Markup, html};

use super::layout::{alert, notice, page};

/// One connected app, as the page shows it.
pub struct ConnectedApp<'a> {
    /// The grant's reference: what the Revoke button posts.
    pub reference: &'a str,
    /// The client's self-declared name.
    pub name: &'a str,
    /// Ours, not the client's: the metadata document's host, or where its redirect leads.
    pub host: Option<&'a str>,
    /// The consent screen's words for each scope.
    pub scopes: &'a [&'a str],
    pub granted: &'a str,
    pub last_used: Option<&'a str>,
}

pub struct AccountPage<'a> {
    pub action: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub apps: &'a [ConnectedApp<'a>],
    pub notice: Option<&'a str>,
}

/// Every form posts `csrf` and an `action`: `revoke` (with `grant`), `sign_out_everywhere`,
/// `delete_account`.
pub fn account(p: &AccountPage) -> Markup {
    let body = html! {
        h1 { "Your account" }
        p.sub { "Signed in as " strong { (p.email) } }
        (notice(p.notice))
        h2 { "Connected apps" }
        @if p.apps.is_empty() {
            p.fine { "No app has access to your account." }
        }
        ul.apps {
            @for app in p.apps {
                li {
                    div.app {
                        strong { bdi { (app.name) } }
                        @if let Some(host) = app.host { br; span.host { (host) } }
                    }
                    ul.scopes {
                        @for s in app.scopes { li { (s) } }
                    }
                    p.fine {
                        "Allowed " (app.granted)
                        @if let Some(used) = app.last_used { " · last used " (used) }
                    }
                    form method="post" action=(p.action) {
                        input type="hidden" name="csrf" value=(p.csrf);
                        input type="hidden" name="grant" value=(app.reference);
                        button type="submit" name="action" value="revoke" { "Revoke access" }
                    }
                }
            }
        }
        h2 { "Everywhere you are signed in" }
        form method="post" action=(p.action) {
            input type="hidden" name="csrf" value=(p.csrf);
            button type="submit" name="action" value="sign_out_everywhere" { "Sign out everywhere" }
        }
        h2 { "Delete your account" }
        p.fine { "This removes your account and everything it holds. You will be asked to confirm." }
        form method="post" action=(p.action) {
            input type="hidden" name="csrf" value=(p.csrf);
            button type="submit" name="action" value="delete_account" { "Delete my account…" }
        }
    };
    page("Your account", body)
}

/// What deleting removes, stated before the person confirms.
pub fn confirm_delete(action: &str, csrf: &str, email: &str, removes: &[String]) -> Markup {
    let body = html! {
        div.avatar.warn aria-hidden="true" { "!" }
        h1 { "Delete your account?" }
        p.sub { "This deletes " strong { (email) } " for good. It removes:" }
        ul {
            @for r in removes { li { (r) } }
        }
        p.fine { "Connected apps lose access at once. This cannot be undone." }
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            div.actions {
                a.button href=(action) { "Keep my account" }
                button.primary type="submit" name="action" value="delete_confirmed" { "Delete my account" }
            }
        }
    };
    page("Delete your account?", body)
}

/// After a deletion.
pub fn deleted() -> Markup {
    let body = html! {
        h1 { "Your account was deleted" }
        p.sub { "Everything it held has been removed, and every app has lost access." }
    };
    page("Your account was deleted", body)
}

/// The sign-in form of the account page (no authorization request around it).
pub fn sign_in(action: &str, csrf: &str, email: &str, error: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Sign in" }
        p.sub { "to manage your account" }
        (alert(error))
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            div.field {
                label for="email" { "Email" }
                input #email type="email" name="email" value=(email) autocomplete="email"
                    autocapitalize="none" spellcheck="false" required autofocus;
            }
            div.field {
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
            }
            button.primary type="submit" name="action" value="login" { "Sign in" }
        }
        p.fine { "Signed in through GitHub, Google or your company? Open this page from an app's consent screen." }
    };
    page("Sign in to your account", body)
}
