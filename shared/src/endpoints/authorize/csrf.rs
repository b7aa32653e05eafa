//! Login CSRF for the sign-in forms, which are posted before any session exists: a double-submit
//! cookie. The forms a session renders (consent, sign-out) bind their tokens to the session
//! instead (`consent`).

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderMap, header};

use crate::crypto::{ct_eq, random_token};

/// Double-submit cookie for the sign-in forms, which are posted before any session exists.
const LOGIN_CSRF_COOKIE: &str = "__Host-csrf";

/// The login CSRF value of a request, and the `Set-Cookie` that plants a new one when it has none.
pub(super) fn login_csrf_cookie(headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(v) = cookie(headers, LOGIN_CSRF_COOKIE) {
        return (v, None);
    }
    let v = random_token();
    let set = format!("{LOGIN_CSRF_COOKIE}={v}; Path=/; Secure; HttpOnly; SameSite=Lax");
    (v, Some(set))
}

/// Double-submit check: the form echoes the login CSRF cookie.
pub(super) fn login_csrf_matches(headers: &HeaderMap, presented: Option<&str>) -> bool {
    let expected = cookie(headers, LOGIN_CSRF_COOKIE);
    matches!((&expected, presented), (Some(e), Some(p)) if ct_eq(e, p))
}

/// A cookie's value from the request's `Cookie` headers.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The login CSRF cookie a form post arrived with, as an extractor: a handler checks the form's
/// echo against it once ([`LoginCsrf::verifies`]), before dispatching on the form's action.
pub(super) struct LoginCsrf(Option<String>);

impl LoginCsrf {
    /// Double-submit check, in constant time: the form echoes the cookie.
    pub(super) fn verifies(&self, presented: Option<&str>) -> bool {
        matches!((&self.0, presented), (Some(e), Some(p)) if ct_eq(e, p))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LoginCsrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LoginCsrf(cookie(&parts.headers, LOGIN_CSRF_COOKIE)))
    }
}
