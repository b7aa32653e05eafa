//! HTTP plumbing shared by every function: the OAuth error type ([`ApiError`] with its
//! [`ErrorCode`]), the internal error that is logged and never shown ([`Internal`]), fallbacks
//! for unknown paths and methods, and the response headers every answer carries.
//!
//! Not for: when an endpoint answers which code; that is in the endpoint's module.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::store::StoreError;

/// The `error` codes this server answers: RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2 (client
/// registration), RFC 8707 §2 (`invalid_target`), plus `not_found` and `method_not_allowed` for
/// the fallbacks, in the same JSON shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    InvalidClientMetadata,
    InvalidRedirectUri,
    TemporarilyUnavailable,
    TooManyRequests,
    NotFound,
    MethodNotAllowed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error, answered as `{"error": …, "error_description": …}` (RFC 6749 §5.2) with its
/// status and headers. Everything in it is for the client; causes go in [`Internal`].
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: ErrorCode,
    pub description: String,
    /// Extra headers, such as `WWW-Authenticate` or `Retry-After`.
    pub headers: Vec<(header::HeaderName, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: ErrorCode, description: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            description: description.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such endpoint")
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            description,
        )
        .with_header(header::RETRY_AFTER, "1")
    }

    pub fn bad_request(error: ErrorCode, description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error, description)
    }
}

/// An internal failure: which component failed and why. Its cause is for the log only; a client
/// is answered a generic 503 ([`ApiError::from`]), never the cause.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error("store call failed: {0}")]
    Store(#[from] StoreError),
    /// The signing keys: generating, unwrapping or signing with one.
    #[error("signing key failure: {0}")]
    Key(String),
    /// KMS, which wraps the signing keys.
    #[error("key management (KMS) call failed: {0}")]
    Kms(String),
}

impl From<Internal> for ApiError {
    fn from(e: Internal) -> Self {
        // The cause goes to the log, not to the client.
        match &e {
            Internal::Store(cause) => {
                tracing::error!(error = %cause, "store call failed");
                crate::metrics::count(crate::metrics::Metric::StoreErrors);
                ApiError::unavailable("storage is unavailable; try again shortly")
            }
            Internal::Key(cause) | Internal::Kms(cause) => {
                tracing::error!(error = %cause, "{}", key_failure(&e));
                ApiError::unavailable("the signing keys are unavailable; try again shortly")
            }
        }
    }
}

fn key_failure(e: &Internal) -> &'static str {
    match e {
        Internal::Kms(_) => "key management (KMS) call failed",
        _ => "signing key failure",
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Internal::Store(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(json!({"error": self.error.as_str(), "error_description": self.description})),
        )
            .into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.headers_mut().append(name, v);
            }
        }
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

/// Unknown path: 404 JSON.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// Known path, wrong method: axum answers 405 with `Allow` and an empty body; this gives it the
/// JSON error body every other error has. A response layer rather than axum's
/// `method_not_allowed_fallback`, which would replace the per-route fallbacks that CORS layers
/// wrap, and so break CORS preflight (`OPTIONS`) requests.
async fn json_405(res: axum::response::Response) -> axum::response::Response {
    if res.status() != StatusCode::METHOD_NOT_ALLOWED || res.headers().contains_key(header::CONTENT_TYPE) {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let mut out = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not accept that method",
    )
    .into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

/// Adds the 404 and 405 answers to a router: once, on the outermost router that a host serves
/// (axum refuses to merge two routers that both have fallbacks).
pub fn with_fallbacks(router: axum::Router) -> axum::Router {
    router
        .fallback(not_found)
        .layer(axum::middleware::map_response(json_405))
}

/// The value of cookie `name`, if the request carries one shaped like a 256-bit token we issue
/// (43 base64url characters); other cookies and malformed values are ignored.
pub fn token_cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .find(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned)
}

/// The caller's address, from a source that the caller cannot forge: API Gateway's
/// `requestContext` in Lambda, the TCP peer in the dev server. `X-Forwarded-For` is never read.
pub fn client_ip(parts: &http::request::Parts) -> Option<std::net::IpAddr> {
    use lambda_http::request::RequestContext;
    match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(c)) => return c.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
        Some(RequestContext::ApiGatewayV1(c)) => {
            return c.identity.source_ip.as_deref().and_then(|ip| ip.parse().ok());
        }
        _ => {}
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The caller's address as an extractor; see [`client_ip`].
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// The answer to an `OPTIONS` request that is not a CORS preflight (a preflight is answered by
/// the route's CORS layer, which only sees requests for methods the route has: hence a route).
pub async fn options() -> StatusCode {
    StatusCode::NO_CONTENT
}
