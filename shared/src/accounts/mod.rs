//! Accounts: users, their passwords, browser sessions, login throttling, email verification,
//! password reset, sign-up policy and invites.
//!
//! The authorize module calls this API to sign users up, log them in and remember them in a
//! session cookie; it never touches the records directly.
//!
//! Not for: HTML forms (see `pages`) or HTTP handlers (see `authorize`).

pub mod admin;
pub mod invites;
pub mod password;
pub mod policy;
pub mod reset;
pub mod sessions;
pub mod throttle;
pub mod users;
pub mod verification;

pub use password::WeakPassword;
pub use users::{InvalidEmail, LoginError, SignupError, User};
