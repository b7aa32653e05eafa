//! Redirects back to the client: success with `code`, failure with `error`, both with `state`
//! and `iss` (RFC 9207), which lets a client that talks to several servers reject a response
//! from the wrong one (mix-up attacks).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use url::Url;

/// `redirect_uri` with `params` appended to its query (keeping any query it already has).
pub fn location(redirect_uri: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = Url::parse(redirect_uri).ok()?;
    url.query_pairs_mut().extend_pairs(params);
    Some(url.to_string())
}

/// A redirect (with `no-store` from the router's layer); 303 turns the browser's POST into a GET.
pub fn redirect(to: &str, status: StatusCode) -> Response {
    let mut res = status.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

pub fn success(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str, status: StatusCode) -> Response {
    let mut params = vec![("code", code)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect(&location(redirect_uri, &params).unwrap_or_default(), status)
}

pub fn error(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
    status: StatusCode,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect(&location(redirect_uri, &params).unwrap_or_default(), status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_appended_to_an_existing_query() {
        assert_eq!(
            location(
                "https://app.example/cb?x=1",
                &[("code", "a b"), ("iss", "https://as.example")]
            )
            .unwrap(),
            "https://app.example/cb?x=1&code=a+b&iss=https%3A%2F%2Fas.example"
        );
    }

    #[test]
    fn private_use_schemes_keep_their_form() {
        assert_eq!(
            location("com.example.app:/cb", &[("code", "c")]).unwrap(),
            "com.example.app:/cb?code=c"
        );
    }
}
