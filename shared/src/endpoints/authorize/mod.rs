//! The authorization endpoint (`/oauth/authorize`): validates the request, signs the user in
//! (or up), asks for consent, and sends the browser back with a code.
//!
//! - `request`: parsing and validating an authorization request, in two steps, because errors
//!   before the client and `redirect_uri` are verified must never redirect.
//! - `reply`: the redirects back to the client (`code`/`error`, with `state` and `iss`).
//! - `consent`: remembered consent and the CSRF tokens of the consent form.
//! - `flow`: the handlers tying it together.
//! - `account`: the signed-in user's connected apps, sign-out everywhere and account deletion.
//! - `email`: the steps around email: sign-up, the verification code, password reset, invites.
//! - `upstream`: sign-in through another provider, and the callback that resumes the request.
//!
//! The pending request travels through the login, sign-up and consent forms as hidden fields and
//! is validated again on every POST, so nothing about it is trusted from the browser.

pub mod account;
pub mod consent;
pub mod email;
pub mod flow;
pub mod reply;
pub mod request;
pub mod upstream;

pub use flow::routes;
