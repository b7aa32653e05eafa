//! The login and sign-up pages.
//!
//! Each button that is not the main submit (social providers, switching between login and
//! sign-up) sits in its own small form with the same hidden fields, so a typed password is only
//! ever posted with the action that uses it, and HTML validation of the email and password fields
//! does not block those buttons.
//!
//! Not for: checking credentials or choosing which page to show (see `authorize`).

use maud::{Markup, html};

use super::Hidden;
use super::layout::{alert, hidden_fields, page};

/// The sign-in page of the authorize flow.
pub struct LoginPage<'a> {
    /// Form action URL (the authorize endpoint path).
    pub action: &'a str,
    pub hidden: Hidden<'a>,
    /// Login CSRF token (double-submit), rendered as the hidden field `csrf` in every form.
    pub csrf: &'a str,
    /// The client's self-declared name: "Sign in to continue to <client_name>".
    pub client_name: &'a str,
    /// Pre-filled after a failed attempt.
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// Shows a button (`action=show_signup`) that switches to the sign-up page.
    pub signup_available: bool,
    /// (id, display name) of upstream social logins; each is a button `provider=<id>`.
    pub providers: &'a [(&'a str, &'a str)],
}

/// The sign-in page. Its main form posts `email`, `password`, the hidden fields, `csrf` and
/// `action=login`.
pub fn login(p: &LoginPage) -> Markup {
    let body = html! {
        h1 { "Sign in" }
        p.sub { "to continue to " strong { (p.client_name) } }
        (alert(p.error))
        @if !p.providers.is_empty() {
            form.providers method="post" action=(p.action) {
                (hidden_fields(p.hidden, p.csrf))
                @for (id, name) in p.providers {
                    button type="submit" name="provider" value=(id) { "Continue with " (name) }
                }
            }
            div.or { "or" }
        }
        form method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            div.field {
                label for="email" { "Email" }
                // Focus goes where the user types next: the email, or after a failed attempt the password.
                input #email type="email" name="email" value=(p.email) autocomplete="email"
                    autocapitalize="none" spellcheck="false" required autofocus[p.email.is_empty()];
            }
            div.field {
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password"
                    required autofocus[!p.email.is_empty()];
            }
            button.primary type="submit" name="action" value="login" { "Sign in" }
        }
        form.forgot method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            button.link type="submit" name="action" value="show_reset" { "Forgot your password?" }
        }
        @if p.signup_available {
            form.switch method="post" action=(p.action) {
                (hidden_fields(p.hidden, p.csrf))
                p {
                    "New here? "
                    button.link type="submit" name="action" value="show_signup" { "Create an account" }
                }
            }
        }
    };
    page(&format!("Sign in to {}", p.client_name), body)
}

/// The sign-up page of the authorize flow.
pub struct SignupPage<'a> {
    pub action: &'a str,
    pub hidden: Hidden<'a>,
    /// Login CSRF token (double-submit), rendered as the hidden field `csrf` in every form.
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// Shown under the password field, e.g. "At least 12 characters".
    pub password_rules: &'a [&'a str],
}

/// The sign-up page. Its main form posts `email`, `password`, the hidden fields, `csrf` and
/// `action=signup`; a second form goes back to login with `action=show_login`.
pub fn signup(p: &SignupPage) -> Markup {
    let body = html! {
        h1 { "Create your account" }
        p.sub { "to continue to " strong { (p.client_name) } }
        (alert(p.error))
        form method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            div.field {
                label for="email" { "Email" }
                input #email type="email" name="email" value=(p.email) autocomplete="email"
                    autocapitalize="none" spellcheck="false" required autofocus[p.email.is_empty()];
            }
            div.field {
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="new-password"
                    aria-describedby=[(!p.password_rules.is_empty()).then_some("password-rules")]
                    required autofocus[!p.email.is_empty()];
                @if !p.password_rules.is_empty() {
                    ul #password-rules .rules {
                        @for rule in p.password_rules { li { (rule) } }
                    }
                }
            }
            button.primary type="submit" name="action" value="signup" { "Create account" }
        }
        form.switch method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            p {
                "Already have an account? "
                button.link type="submit" name="action" value="show_login" { "Sign in" }
            }
        }
    };
    page(&format!("Create an account for {}", p.client_name), body)
}
