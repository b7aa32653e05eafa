//! The pages around email: "check your email" with its code form, the password reset request,
//! its "check your email", the reset form behind the mailed link, and the invitation page.
//!
//! Each is a plain form that works without JavaScript, with the same hidden fields and CSRF token
//! as the sign-in pages, so the pending authorization request survives every step.
//!
//! Not for: checking codes or tokens, or choosing which page to show (see `authorize`).

use maud::{Markup, html};

use super::Hidden;
use super::layout::{alert, hidden_fields, notice, page};

/// "Check your email": the code form after a sign-up, or a sign-in before verification.
pub struct VerifyPage<'a> {
    pub action: &'a str,
    pub hidden: Hidden<'a>,
    pub csrf: &'a str,
    /// Where the code went (as the person typed it).
    pub email: &'a str,
    pub client_name: &'a str,
    pub error: Option<&'a str>,
    /// A confirmation such as "We sent a new code."
    pub notice: Option<&'a str>,
}

/// Its main form posts `code`, the hidden fields, `csrf` and `action=verify_email`; a second form
/// posts `action=resend_code`, a third `action=show_signup` to start over.
pub fn verify(p: &VerifyPage) -> Markup {
    let body = html! {
        h1 { "Check your email" }
        p.sub {
            "We sent a 6-digit code to " strong { (p.email) } ". Enter it to continue to "
            strong { bdi { (p.client_name) } } "."
        }
        (alert(p.error))
        (notice(p.notice))
        form method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            div.field {
                label for="code" { "Code" }
                input #code type="text" name="code" inputmode="numeric" pattern="[0-9 ]*" maxlength="8"
                    autocomplete="one-time-code" required autofocus;
            }
            button.primary type="submit" name="action" value="verify_email" { "Verify" }
        }
        form.switch method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            p {
                "No email? Check your spam folder, or "
                button.link type="submit" name="action" value="resend_code" { "send a new code" }
                "."
            }
        }
        form.switch method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            p {
                "Wrong address? "
                button.link type="submit" name="action" value="show_signup" { "Start again" }
            }
        }
    };
    page("Check your email", body)
}

/// The reset request: an email field.
pub struct ResetRequestPage<'a> {
    pub action: &'a str,
    pub hidden: Hidden<'a>,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

/// Posts `email`, the hidden fields, `csrf` and `action=request_reset`; a second form goes back
/// to sign-in with `action=show_login`.
pub fn reset_request(p: &ResetRequestPage) -> Markup {
    let body = html! {
        h1 { "Reset your password" }
        p.sub { "Enter the email address of your account. We will send you a link to choose a new password." }
        (alert(p.error))
        form method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            div.field {
                label for="email" { "Email" }
                input #email type="email" name="email" value=(p.email) autocomplete="email"
                    autocapitalize="none" spellcheck="false" required autofocus;
            }
            button.primary type="submit" name="action" value="request_reset" { "Send reset link" }
        }
        form.switch method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            p {
                "Remembered it? "
                button.link type="submit" name="action" value="show_login" { "Sign in" }
            }
        }
    };
    page("Reset your password", body)
}

/// After a reset request: the same words whether or not the address has an account.
pub fn reset_sent(action: &str, hidden: Hidden, csrf: &str, email: &str) -> Markup {
    let body = html! {
        h1 { "Check your email" }
        p.sub {
            "If an account uses " strong { (email) } ", we sent it a link to choose a new password. "
            "The link works for 30 minutes."
        }
        form.switch method="post" action=(action) {
            (hidden_fields(hidden, csrf))
            p {
                "Back to "
                button.link type="submit" name="action" value="show_login" { "sign in" }
            }
        }
    };
    page("Check your email", body)
}

/// The form behind the mailed link.
pub struct ResetFormPage<'a> {
    pub action: &'a str,
    pub token: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub password_rules: &'a [&'a str],
}

/// Posts `token`, `password` and `csrf`.
pub fn reset_form(p: &ResetFormPage) -> Markup {
    let body = html! {
        h1 { "Choose a new password" }
        p.sub { "for " strong { (p.email) } }
        (alert(p.error))
        form method="post" action=(p.action) {
            input type="hidden" name="token" value=(p.token);
            input type="hidden" name="csrf" value=(p.csrf);
            // A hidden username lets password managers file the new password under the account.
            input type="hidden" name="username" value=(p.email) autocomplete="username";
            div.field {
                label for="password" { "New password" }
                input #password type="password" name="password" autocomplete="new-password"
                    aria-describedby="password-rules" required autofocus;
                ul #password-rules .rules {
                    @for rule in p.password_rules { li { (rule) } }
                }
            }
            button.primary type="submit" { "Set new password" }
        }
        p.fine { "Setting a new password signs you out everywhere." }
    };
    page("Choose a new password", body)
}

/// After a reset: where to go next.
pub fn reset_done(continue_to: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Password changed" }
        p.sub { "Your new password is set, and every earlier sign-in has ended." }
        @if let Some(href) = continue_to {
            a.button.primary href=(href) { "Continue to sign in" }
        } @else {
            p.fine { "You can close this window and sign in from the app you were using." }
        }
    };
    page("Password changed", body)
}

/// The page behind an invitation link.
pub fn invite(server_name: &str, mcp_url: &str, for_email: Option<&str>) -> Markup {
    let body = html! {
        h1 { "You are invited" }
        p.sub { "to " strong { (server_name) } "." }
        p {
            "Connect your MCP client (Claude, VS Code, Cursor, …) to " strong { (mcp_url) }
            ". When it opens this browser to sign in, choose "
            strong { "Create an account" } @if let Some(email) = for_email { " with " strong { (email) } } "."
        }
        p.fine { "The invitation is kept in this browser for seven days and works once." }
    };
    page("You are invited", body)
}
