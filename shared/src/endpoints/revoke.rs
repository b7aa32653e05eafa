//! The revocation endpoint (`POST /api/oauth/revoke`, RFC 7009).
//!
//! Revoking a refresh token revokes its whole grant; so does revoking an access token (one this
//! issuer signed for the same client), through the grant reference it carries, and the MCP
//! function then refuses the grant's access tokens within its revocation window (see
//! `tokens::liveness`). An unknown or already revoked token still gets 200, as RFC 7009 §2.2
//! requires, so the answer reveals nothing about which tokens exist.
//!
//! The client is authenticated without fetching a metadata document (see
//! `clients::authenticate_without_fetch`): an unauthenticated request here never makes us fetch
//! one. A `private_key_jwt` client's assertion is verified as at the token endpoint, which for a
//! client with a `jwks_uri` may fetch its keys (cached, under the metadata documents' guards).

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use crate::app::AppState;
use crate::clients;
use crate::crypto::ct_eq;
use crate::endpoints::layers;
use crate::form::Form;
use crate::http::ApiError;
use crate::tokens::{access, grants};
use crate::urls::{self, Urls};

async fn revoke(
    State(state): State<AppState>,
    urls: Urls,
    headers: HeaderMap,
    Form(p): Form,
) -> Result<impl IntoResponse, ApiError> {
    let token = p.require("token")?;
    let creds = clients::credentials_in(&headers, &p)?;
    // An assertion may name this issuer, the token endpoint (clients often reuse one audience for
    // both) or this endpoint.
    let audiences = [urls.issuer().to_owned(), urls.token(), urls.revoke()];
    let client_id =
        clients::authenticate_without_fetch(&state.store, &creds, state.config.cimd_allow_loopback, &audiences).await?;
    if let Some((id, grant)) = grants::find_by_token(&state.store, token).await? {
        // Only the client the grant was issued to may revoke it (RFC 7009 §2.1).
        if ct_eq(&grant.client_id, &client_id) {
            grants::revoke(&state.store, &id, "revoked_by_client").await?;
        }
    } else if let Some(claims) = access::verified_claims(&state.keys, urls.issuer(), token).await?
        && let Some(reference) = claims.gid.as_deref()
        // Only the client the token was issued to may revoke its grant (RFC 7009 §2.1).
        && ct_eq(&claims.client_id, &client_id)
    {
        grants::revoke_reference(&state.store, reference, "access_token_revoked_by_client").await?;
    }
    // `no-store` comes from the router's layer (`endpoints::layers`).
    Ok(StatusCode::OK)
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(urls::REVOKE_PATH, post(revoke).options(crate::http::options))
        .layer(layers::no_store())
        .layer(layers::cors())
        .with_state(state)
}
