//! The authorization server's HTML: login, sign-up, email verification, password reset, consent
//! and error pages, and [`html`], which
//! wraps a page into a response with the security headers every HTML answer carries.
//!
//! Pages render only. Which page to show, input validation, CSRF checks and the handling of the
//! form posts belong to `authorize`. Every page is a plain HTML form that works without
//! JavaScript (there is none), styled by one static inline `<style>` block that the
//! Content-Security-Policy allows by its hash.

mod account;
mod connected;
mod consent;
mod email;
mod error;
mod layout;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

pub use account::{LoginPage, SignupPage, login, signup};
pub use connected::{
    AccountPage, ConnectedApp, account, confirm_delete, deleted as account_deleted, sign_in as account_sign_in,
};
pub use consent::{ConsentPage, consent, redirect_target};
pub use email::{
    ResetFormPage, ResetRequestPage, VerifyPage, invite, reset_done, reset_form, reset_request, reset_sent, verify,
};
pub use error::{error, error_with_retry};
pub use layout::{CSS, content_security_policy, style_hash};

/// Hidden form fields that carry the pending authorization request through the login, sign-up
/// and consent posts: (name, value) pairs, rendered as `<input type="hidden">` in every form.
pub type Hidden<'a> = &'a [(&'a str, &'a str)];

/// Wraps a page into a response with the security headers every HTML answer carries. They stay
/// with the page, `no-store` included, so a page is safe whichever router serves it; the
/// authorize router's `no-store` layer covers its redirects and other answers.
pub fn html(status: StatusCode, page: maud::Markup) -> Response {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(content_security_policy()),
        ),
        // Older browsers that ignore CSP frame-ancestors: no framing, so no clickjacking of consent.
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // The authorize URL carries state and PKCE challenges; never hand it to another site.
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        // Pages hold CSRF tokens and a pending request; no cache may keep them.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
    ];
    (status, headers, page.into_string()).into_response()
}
