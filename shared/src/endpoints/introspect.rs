//! Token introspection (RFC 7662) at `POST /api/oauth/introspect`, served by the token function.
//!
//! Only a confidential client (secret or `private_key_jwt`) listed in `INTROSPECTION_CLIENTS`
//! may ask; anyone else, authenticated or not, gets 401 `invalid_client`, so the endpoint
//! reveals nothing about any token to a caller the operator has not named. Such a caller (a
//! resource server, say) learns about any token, whoever it was issued to: that is the RFC's
//! purpose.
//!
//! Active: an access token this issuer signed for our MCP resource, unexpired, whose grant (its
//! `gid`) is still live, or a machine token (no grant) within its lifetime; a refresh token that
//! is its grant's current one, within the refresh and grant lifetimes. Everything else, including
//! a token that is malformed, expired, revoked or unknown, is `{"active": false}` (RFC 7662 §2.2).
//! At most three store calls warm: the caller, its assertion's `jti`, the grant.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::clients;
use crate::crypto::{ct_eq, sha256_b64};
use crate::form::Form;
use crate::http::{ApiError, ErrorCode};
use crate::store::Table;
use crate::tokens::{access, grants};
use crate::urls::Urls;

/// 401 `invalid_client`, with the Basic challenge when Basic was tried (RFC 6749 §5.2).
fn not_allowed(via_basic: bool) -> ApiError {
    let error = ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidClient,
        "this client may not introspect tokens",
    );
    if via_basic {
        error.with_header(header::WWW_AUTHENTICATE, r#"Basic realm="oauth""#)
    } else {
        error
    }
}

/// What the server knows about `token`, as RFC 7662 §2.2 members; None when it is not active.
async fn describe(state: &AppState, urls: &Urls, token: &str) -> Result<Option<Value>, ApiError> {
    let now = state.store.clock().now();
    // A JWT has three dot-separated parts; a refresh token (`<grant id>.<secret>`) has two.
    if token.split('.').count() == 3 {
        let Some(claims) = access::verified_claims(&state.keys, urls.issuer(), token).await? else {
            return Ok(None);
        };
        if claims.exp <= now || claims.nbf > now || claims.aud != urls.mcp() {
            return Ok(None);
        }
        if let Some(reference) = &claims.gid
            && state.store.get(Table::Grants, reference).await?.is_none()
        {
            return Ok(None);
        }
        let mut body = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "jti": claims.jti,
        });
        if claims.machine {
            body["machine"] = true.into();
        }
        return Ok(Some(body));
    }
    let Some((_, grant)) = grants::find_by_token(&state.store, token).await? else {
        return Ok(None);
    };
    // Only the current token of the chain; the previous one lives only for a retry's grace.
    let current = ct_eq(&sha256_b64(token.as_bytes()), &grant.refresh.current);
    let exp = grant
        .expires_at
        .min(grant.refresh.issued_at + state.config.lifetimes.refresh_token);
    if !current || exp <= now {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": grant.scope.join(" "),
        "client_id": grant.client_id,
        "sub": grant.user_id,
        "aud": grant.resource,
        "iss": urls.issuer(),
        "exp": exp,
        "iat": grant.refresh.issued_at,
    })))
}

async fn introspect(
    State(state): State<AppState>,
    urls: Urls,
    headers: HeaderMap,
    Form(p): Form,
) -> Result<Response, ApiError> {
    let creds = clients::credentials_in(&headers, &p)?;
    // Who may ask is decided before any lookup: an unlisted id costs no store call.
    if !state
        .config
        .introspection_clients
        .iter()
        .any(|c| ct_eq(c, &creds.client_id))
    {
        return Err(not_allowed(creds.via_basic));
    }
    let audiences = [urls.issuer().to_owned(), urls.token(), urls.introspect()];
    let client = clients::authenticate_with(&state.store, &creds, state.config.cimd_allow_loopback, &audiences).await?;
    // A public client proves nothing about who it is.
    if client.is_public() {
        return Err(not_allowed(creds.via_basic));
    }
    let token = p.require("token")?;
    let body = describe(&state, &urls, token)
        .await?
        .unwrap_or_else(|| json!({"active": false}));
    // `no-store` comes from the token function's router layers (`endpoints::layers`).
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// The introspection route, merged into the token function's router.
pub fn route() -> axum::routing::MethodRouter<AppState> {
    axum::routing::post(introspect).options(crate::http::options)
}
