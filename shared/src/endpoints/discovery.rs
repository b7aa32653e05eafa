//! The discovery function: protected resource metadata (RFC 9728), authorization server metadata
//! (RFC 8414, also served as `openid-configuration`), and the JWKS.
//!
//! The documents advertise only endpoints that exist. They are public and fetched by browser-based
//! clients, so they allow any origin and may be cached briefly.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, Method, header};
use serde_json::{Value, json};
use tower_http::cors::{Any, CorsLayer};

use crate::app::AppState;
use crate::clients::assertion;
use crate::http::ApiError;
use crate::scopes::Scopes;
use crate::urls::{self, Urls};

/// How clients may authenticate at the token and revocation endpoints (`clients::auth`).
const AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];

/// Metadata changes only on deploy; JWKS on rotation, which keeps old keys published meanwhile.
const CACHE: &str = "public, max-age=300";

pub fn protected_resource_metadata(urls: &Urls, resource_name: &str, scopes: &Scopes) -> Value {
    json!({
        "resource": urls.mcp(),
        "authorization_servers": [urls.issuer()],
        "scopes_supported": scopes.resource_scopes(),
        "bearer_methods_supported": ["header"],
        "resource_name": resource_name,
    })
}

pub fn authorization_server_metadata(urls: &Urls, scopes: &Scopes) -> Value {
    json!({
        "issuer": urls.issuer(),
        "authorization_endpoint": urls.authorize(),
        "token_endpoint": urls.token(),
        "registration_endpoint": urls.register(),
        "jwks_uri": urls.jwks(),
        "revocation_endpoint": urls.revoke(),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion::ALGORITHMS,
        "introspection_endpoint": urls.introspect(),
        // Only confidential clients may introspect (see `introspect`).
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": assertion::ALGORITHMS,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": assertion::ALGORITHMS,
        "scopes_supported": scopes.server_scopes(),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    })
}

fn cached(body: Value) -> Response {
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    res
}

async fn prm(State(state): State<AppState>, urls: Urls) -> Response {
    cached(protected_resource_metadata(
        &urls,
        &state.config.resource_name,
        state.scopes(),
    ))
}

async fn as_metadata(State(state): State<AppState>, urls: Urls) -> Response {
    cached(authorization_server_metadata(&urls, state.scopes()))
}

async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(cached(state.keys.jwks().await?))
}

/// The discovery function's routes (no fallbacks: the host adds those).
pub fn routes(state: AppState) -> Router {
    // Any header: the TypeScript MCP SDK sends MCP-Protocol-Version on metadata fetches.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET])
        .allow_headers(Any);
    let routes = Router::new()
        .route(urls::PRM_PATH, get(prm).options(crate::http::options))
        .route(
            &format!("{}{}", urls::PRM_PATH, urls::MCP_PATH),
            get(prm).options(crate::http::options),
        )
        .route(urls::AS_METADATA_PATH, get(as_metadata).options(crate::http::options))
        .route(
            urls::OPENID_CONFIGURATION_PATH,
            get(as_metadata).options(crate::http::options),
        )
        .route(urls::JWKS_PATH, get(jwks).options(crate::http::options))
        .layer(cors);
    routes.with_state(state)
}
