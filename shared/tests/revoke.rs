//! The revocation endpoint (RFC 7009).

mod common;

use common::oauth::Harness;
use common::{embedded, post_form};
use http::StatusCode;

fn harness() -> (Harness, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    (Harness::new(store), dir)
}

async fn revoke(h: &Harness, client_id: &str, token: &str) -> common::Reply {
    h.call(post_form(
        "/api/oauth/revoke",
        &[("client_id", client_id), ("token", token)],
    ))
    .await
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_grant() {
    let (h, _d) = harness();
    let (client, tokens) = h.tokens().await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let reply = revoke(&h, &client.id, rt).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(h.refresh(&client, rt).await.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn revoking_the_previous_refresh_token_also_revokes_the_grant() {
    let (h, _d) = harness();
    let (client, tokens) = h.tokens().await;
    let r1 = tokens["refresh_token"].as_str().unwrap();
    let r2 = h.refresh(&client, r1).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(revoke(&h, &client.id, r1).await.status, StatusCode::OK);
    assert_eq!(h.refresh(&client, &r2).await.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn unknown_or_already_revoked_tokens_still_get_200() {
    let (h, _d) = harness();
    let (client, tokens) = h.tokens().await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(&h, &client.id, "not-a-token").await.status, StatusCode::OK);
    assert_eq!(revoke(&h, &client.id, rt).await.status, StatusCode::OK);
    assert_eq!(revoke(&h, &client.id, rt).await.status, StatusCode::OK);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(revoke(&h, &client.id, access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_grant() {
    let (h, _d) = harness();
    let (client, tokens) = h.tokens().await;
    let other = h.public_client().await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(&h, &other.id, rt).await.status, StatusCode::OK);
    assert_eq!(
        h.refresh(&client, rt).await.status,
        StatusCode::OK,
        "the grant survives"
    );
}

#[tokio::test]
async fn a_forged_token_naming_a_real_grant_revokes_nothing() {
    let (h, _d) = harness();
    let (client, tokens) = h.tokens().await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (grant_id, _) = rt.split_once('.').unwrap();
    let forged = format!("{grant_id}.{}", mcp_oauth::crypto::random_token());
    assert_eq!(revoke(&h, &client.id, &forged).await.status, StatusCode::OK);
    assert_eq!(h.refresh(&client, rt).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revocation_authenticates_the_client_like_the_token_endpoint() {
    let (h, _d) = harness();
    let client = h.confidential_client().await;
    let reply = h
        .call(post_form(
            "/api/oauth/revoke",
            &[("client_id", &client.id), ("token", "x")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "invalid_client");
    let reply = h
        .call(post_form(
            "/api/oauth/revoke",
            &[("client_id", "nobody"), ("token", "x")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revocation_without_a_token_is_invalid_request() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let reply = h
        .call(post_form("/api/oauth/revoke", &[("client_id", &client.id)]))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_request");
}
