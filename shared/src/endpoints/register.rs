//! The registration function: OAuth 2.0 Dynamic Client Registration (RFC 7591) at
//! `POST /api/oauth/register`.
//!
//! Anyone may register (MCP clients register themselves on first contact), so the endpoint is
//! bounded instead: a 16 KiB JSON body, at most [`metadata::MAX_FIELDS`] fields, two fixed-window
//! counters, and a lifetime for clients nobody approves:
//! - per source address (per /64 for IPv6): `REGISTRATIONS_PER_ADDRESS` (300) per
//!   `REGISTRATION_WINDOW` (10 minutes). High, because claude.ai registers from a few shared
//!   egress addresses, twice per connect, for all of its users; 20 an hour locked them all out.
//! - across all addresses: `REGISTRATIONS_GLOBAL_PER_HOUR` (5,000) per clock hour, which bounds
//!   what a flood from many addresses can write.
//! - a registered client expires after `UNCONFIRMED_CLIENT_TTL` (24 h) unless a user approves it
//!   first (`clients::confirm`), so the store holds at most global × TTL unconfirmed clients
//!   (120,000 at the defaults).
//!
//! The address is the one API Gateway or the TCP peer reports, never `X-Forwarded-For`. Only
//! valid requests count towards the limits: invalid ones cost no write, and a developer fixing
//! their metadata is not locked out. Public clients (`token_endpoint_auth_method: none`, the
//! default) get no secret; confidential ones get a 256-bit secret, shown once in the response and
//! stored only as its SHA-256 hash. A `private_key_jwt` client gets no secret either: it proves
//! itself with its registered keys (see `crate::clients::assertion`). Browser-based clients (MCP Inspector) register from a web
//! page, so any origin may call it.
//!
//! Which redirect URIs are accepted, and why, is in `crate::clients::redirect_uri`; which metadata
//! is checked, defaulted and kept is in [`metadata`].
//!
//! Not for: reading or updating a client after registration (RFC 7592 is not offered).

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use tower_http::cors::{Any, CorsLayer};

use crate::app::AppState;
use crate::clients::metadata::{self, MetadataError, Registration};
use crate::clients::{self, Client};
use crate::crypto::{random_id, random_token, sha256_b64};
use crate::endpoints::layers;
use crate::http::{ApiError, ErrorCode, client_ip};
use crate::store::{StoreError, Table};
use crate::urls;

/// Largest registration request body, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// The global limit's fixed window, in seconds.
pub const GLOBAL_WINDOW: i64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the registration request must be JSON (Content-Type: application/json)")]
    NotJson,
    #[error("the registration request is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the registration request could not be read")]
    Unreadable,
    #[error("the registration request is not valid JSON: {0}")]
    MalformedJson(String),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("too many registrations from this address; try again in {retry_after} seconds")]
    RateLimited { retry_after: i64 },
    #[error("this server is taking no more registrations for now; try again in {retry_after} seconds")]
    GloballyLimited { retry_after: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        let description = e.to_string();
        match e {
            RegisterError::NotJson | RegisterError::Unreadable | RegisterError::MalformedJson(_) => {
                ApiError::bad_request(ErrorCode::InvalidClientMetadata, description)
            }
            RegisterError::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::InvalidRequest, description)
            }
            RegisterError::Metadata(MetadataError::RedirectUri(_)) => {
                ApiError::bad_request(ErrorCode::InvalidRedirectUri, description)
            }
            RegisterError::Metadata(MetadataError::Metadata(_)) => {
                ApiError::bad_request(ErrorCode::InvalidClientMetadata, description)
            }
            RegisterError::RateLimited { retry_after } | RegisterError::GloballyLimited { retry_after } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests, description)
                    .with_header(header::RETRY_AFTER, retry_after.to_string())
            }
            RegisterError::Store(e) => ApiError::from(e),
        }
    }
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// True for `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads at most [`MAX_BODY`] bytes of JSON.
///
/// A hand reader rather than `RequestBodyLimitLayer`: an oversize body must be answered 413 in
/// the RFC 7591 error shape (`invalid_request` JSON), which the layer, answering before the
/// handler with its own body, cannot give; a read failure is told apart from the limit too.
async fn read_json(headers: &HeaderMap, body: axum::body::Body) -> Result<Value, RegisterError> {
    if !is_json(headers) {
        return Err(RegisterError::NotJson);
    }
    let bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                RegisterError::TooLarge
            } else {
                RegisterError::Unreadable
            }
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| RegisterError::MalformedJson(e.to_string()))
}

/// The rate-limit bucket of a source address. With no known address (in-process tests) every
/// request shares one bucket.
fn bucket(ip: Option<IpAddr>) -> String {
    match ip {
        None => "unknown".into(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            // One IPv6 subscriber usually holds a whole /64; counting single addresses would let
            // one caller rotate through 2^64 of them.
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Adds one to a fixed-window counter; returns the count and the window's end.
async fn count(state: &AppState, name: &str, window: i64, now: i64) -> Result<(u64, i64), RegisterError> {
    let n = now.div_euclid(window);
    let window_end = (n + 1) * window;
    let count = state
        .store
        .increment(Table::Limits, &format!("{name}:{n}"), window_end)
        .await?;
    Ok((count, window_end))
}

/// Counts one registration against the source's budget, then the server's. Fixed windows: a
/// source can fit twice its limit into a short span across a window boundary, so at the
/// defaults it gets at most 600 in any 10 minutes (1,800 an hour), and all sources together
/// at most 10,000 in any hour. A source over its own limit is refused before the global count,
/// so one flooding address cannot use up everyone's budget beyond its own share.
async fn check_rate(state: &AppState, ip: Option<IpAddr>) -> Result<(), RegisterError> {
    let now = state.store.clock().now();
    let bucket = bucket(ip);
    let (from_source, window_end) =
        count(state, &format!("reg:{bucket}"), state.config.registration_window, now).await?;
    if from_source > state.config.registrations_per_address {
        tracing::warn!(event = "registration_rate_limited", source = %bucket, count = from_source);
        return Err(RegisterError::RateLimited {
            retry_after: (window_end - now).max(1),
        });
    }
    let (in_all, window_end) = count(state, "reg-all", GLOBAL_WINDOW, now).await?;
    if in_all > state.config.registrations_global_per_hour {
        tracing::warn!(event = "registration_global_limit", count = in_all);
        return Err(RegisterError::GloballyLimited {
            retry_after: (window_end - now).max(1),
        });
    }
    Ok(())
}

/// Stores a new client under a fresh random id. Returns it with its secret, if it has one.
async fn create_client(state: &AppState, reg: Registration) -> Result<(Client, Option<String>), RegisterError> {
    let secret = reg.auth_method.uses_secret().then(random_token);
    let mut client = Client {
        client_id: random_id(),
        client_name: reg.client_name,
        redirect_uris: reg.redirect_uris,
        auth_method: reg.auth_method,
        // Only the hash is kept: a leaked table must not hand out working client credentials.
        secret_hash: secret.as_deref().map(|s| sha256_b64(s.as_bytes())),
        created_at: state.store.clock().now(),
        metadata: reg.metadata,
    };
    // A 128-bit id collides with probability ~2^-64 even among billions of clients; the retry only
    // makes sure a collision could never overwrite another client.
    let expires_at = client.created_at + state.config.unconfirmed_client_ttl;
    for _ in 0..3 {
        if clients::create_unconfirmed(&state.store, &client, expires_at).await? {
            return Ok((client, secret));
        }
        client.client_id = random_id();
    }
    Err(StoreError::Unavailable("could not find a free client id".into()).into())
}

/// RFC 7591 §3.2.1: the registered metadata plus what the server assigned.
fn created(client: &Client, secret: Option<String>) -> Response {
    let mut body = client.metadata.clone();
    body.insert("redirect_uris".into(), json!(client.redirect_uris));
    body.insert("client_id".into(), json!(client.client_id));
    body.insert("client_id_issued_at".into(), json!(client.created_at));
    if let Some(secret) = secret {
        body.insert("client_secret".into(), json!(secret));
        body.insert("client_secret_expires_at".into(), json!(0));
    }
    // The response may carry a secret: no cache may keep it (`no-store` and `Pragma` come from
    // the router's layers, `endpoints::layers`).
    (StatusCode::CREATED, Json(Value::Object(body))).into_response()
}

async fn register(State(state): State<AppState>, request: Request) -> Result<Response, RegisterError> {
    let (parts, body) = request.into_parts();
    let mut registration = metadata::parse(read_json(&parts.headers, body).await?)?;
    registration.keep_known_scopes(state.scopes());
    check_rate(&state, client_ip(&parts)).await?;
    let (client, secret) = create_client(&state, registration).await?;
    tracing::info!(
        event = "client_registered",
        client_id = %client.client_id,
        auth_method = client.auth_method.as_str(),
        redirect_uris = client.redirect_uris.len(),
    );
    crate::metrics::count(crate::metrics::Metric::ClientsRegistered);
    Ok(created(&client, secret))
}

/// The registration function's routes (no fallbacks: the host adds those).
pub fn routes(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    // The CORS layer answers preflights, but only for methods the route has: without an OPTIONS
    // route, the 405 fallback the host adds (`with_fallbacks`) answers them outside the layer.
    let route = post(register).options(|| async { StatusCode::NO_CONTENT });
    Router::new()
        .route(urls::REGISTER_PATH, route)
        .layer(layers::no_cache_pragma())
        .layer(layers::no_store())
        .layer(cors)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn ipv6_sources_share_a_bucket_per_64_prefix() {
        let a = bucket(Some("2001:db8:1:2::1".parse().unwrap()));
        let b = bucket(Some("2001:db8:1:2:ffff::9".parse().unwrap()));
        let c = bucket(Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(bucket(Some("::ffff:192.0.2.7".parse().unwrap())), "192.0.2.7");
        assert_eq!(bucket(None), "unknown");
    }
}
