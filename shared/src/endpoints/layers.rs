//! The tower layers the endpoints share: response headers every answer of an endpoint carries,
//! and CORS for the endpoints browser-based clients call directly.

use http::{HeaderValue, Method, header};
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// `Cache-Control: no-store` on every answer that does not set its own: tokens, secrets, codes,
/// CSRF tokens and pending requests must never be kept by a cache (RFC 6749 §5.1, RFC 7591
/// §3.2.1). Inside the CORS layer, so preflights keep their own headers.
pub fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// `Pragma: no-cache` beside `no-store`, for HTTP/1.0 caches (RFC 6749 §5.1).
pub fn no_cache_pragma() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(header::PRAGMA, HeaderValue::from_static("no-cache"))
}

/// CORS for the POST endpoints browser-based clients (MCP Inspector) call directly.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
}
