//! The authorization endpoint (`/oauth/authorize`): validates the request, signs the user in
//! (or up), asks for consent, and sends the browser back with a code.
//!
//! - `request`: parsing and validating an authorization request, in two steps, because errors
//!   before the client and `redirect_uri` are verified must never redirect.
//! - `reply`: the redirects back to the client (`code`/`error`, with `state` and `iss`).
//! - `consent`: remembered consent and the CSRF tokens of the consent form.
//! - `transaction`: the protocol transaction: client and session lookup, validation, which
//!   errors may be redirected, and issuing the code.
//! - `screens`, `signin`: the interaction's pages (sign-in, sign-up, consent) and what follows a
//!   sign-in.
//! - `csrf`: the login CSRF cookie and its extractor; `html`: error pages and form reading.
//! - `flow`: the handlers, dispatching a posted form's typed action to the steps.
//! - `account`: the signed-in user's connected apps, sign-out everywhere and account deletion.
//! - `email`: the steps around email: sign-up, the verification code, password reset, invites.
//! - `upstream`: sign-in through another provider, and the callback that resumes the request.
//!
//! The pending request travels through the login, sign-up and consent forms as hidden fields and
//! is validated again on every POST, so nothing about it is trusted from the browser.

pub mod account;
pub mod consent;
mod csrf;
pub mod email;
pub mod flow;
mod html;
pub mod reply;
pub mod request;
mod screens;
mod signin;
mod transaction;
pub mod upstream;

pub use flow::routes;
