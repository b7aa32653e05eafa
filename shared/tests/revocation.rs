//! Revocation reaches `/mcp`: a revoked grant's access tokens are refused within the revocation
//! window, at a bounded store cost, and RFC 7009 revocation of an access token revokes its grant.

mod common;
mod mcp_support;

use common::oauth::{Harness, TestClient};
use common::{Reply, embedded, post_form};
use http::StatusCode;
use mcp_support::{LEGACY, post, rpc};
use serde_json::{Value, json};

async fn tokens(h: &Harness) -> (TestClient, Value) {
    h.tokens().await
}

async fn tools_list(h: &Harness, token: &str) -> Reply {
    h.call(post(
        Some(token),
        &rpc(1, "tools/list", json!({})),
        &[("mcp-protocol-version", LEGACY)],
    ))
    .await
}

async fn revoke(h: &Harness, client: &TestClient, token: &str) -> Reply {
    h.call(post_form(
        "/api/oauth/revoke",
        &[("client_id", client.id.as_str()), ("token", token)],
    ))
    .await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&mcp_oauth::crypto::b64_decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_revoked_grants_access_token_is_refused_at_mcp_within_the_window() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "30")]);
    let (client, t) = tokens(&h).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
    assert_eq!(
        revoke(&h, &client, t["refresh_token"].as_str().unwrap()).await.status,
        StatusCode::OK
    );
    // Within the window the instance still trusts its last look; past it, the token is refused.
    h.store.clock().advance(31);
    let refused = tools_list(&h, access).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text());
    let challenge = refused.header("www-authenticate").unwrap();
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
}

#[tokio::test]
async fn a_zero_window_refuses_the_next_request_after_revocation() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let (client, t) = tokens(&h).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
    revoke(&h, &client, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(tools_list(&h, access).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn warm_requests_inside_the_window_make_no_store_call_and_the_first_after_it_makes_one() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "60")]);
    let (_, t) = tokens(&h).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
    let before = h.store.calls();
    for _ in 0..5 {
        assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
    }
    assert_eq!(h.store.calls(), before, "inside the window: no store call");
    h.store.clock().advance(61);
    assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
    assert_eq!(h.store.calls(), before + 1, "after the window: one read of the grant");
    assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
    assert_eq!(h.store.calls(), before + 1, "and a fresh window again");
}

#[tokio::test]
async fn revoking_an_access_token_revokes_its_grant() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let (client, t) = tokens(&h).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(revoke(&h, &client, access).await.status, StatusCode::OK);
    assert_eq!(tools_list(&h, access).await.status, StatusCode::UNAUTHORIZED);
    let refreshed = h.refresh(&client, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::BAD_REQUEST);
    assert_eq!(refreshed.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn another_client_cannot_revoke_a_grant_with_its_access_token() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let (_, t) = tokens(&h).await;
    let access = t["access_token"].as_str().unwrap();
    let stranger = h.public_client().await;
    assert_eq!(
        revoke(&h, &stranger, access).await.status,
        StatusCode::OK,
        "RFC 7009: 200 whatever"
    );
    assert_eq!(
        tools_list(&h, access).await.status,
        StatusCode::OK,
        "the grant is still live"
    );
}

#[tokio::test]
async fn the_access_token_carries_a_grant_reference_that_is_not_the_grant_id() {
    let (store, _, _dir) = embedded();
    let h = Harness::new(store);
    let (_, t) = tokens(&h).await;
    let gid = claims(t["access_token"].as_str().unwrap())["gid"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant_id = t["refresh_token"].as_str().unwrap().split_once('.').unwrap().0;
    assert_ne!(gid, grant_id);
    assert_eq!(gid, mcp_oauth::tokens::grants::reference(grant_id));
    // The grant is stored under its reference; the grant id itself is stored nowhere.
    assert!(
        h.store
            .get(mcp_oauth::store::Table::Grants, &gid)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        h.store
            .get(mcp_oauth::store::Table::Grants, grant_id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_expired_grant_is_refused_at_mcp() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(
        store,
        &[
            ("REVOCATION_WINDOW", "0"),
            ("GRANT_TTL", "120"),
            ("ACCESS_TOKEN_TTL", "3600"),
        ],
    );
    let (_, t) = tokens(&h).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
    h.store.clock().advance(121);
    assert_eq!(tools_list(&h, access).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refresh_keeps_the_grant_reference_so_new_tokens_pass_the_check() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let (client, t) = tokens(&h).await;
    let next = h.refresh(&client, t["refresh_token"].as_str().unwrap()).await.json();
    let access = next["access_token"].as_str().unwrap();
    assert_eq!(
        claims(access)["gid"],
        claims(t["access_token"].as_str().unwrap())["gid"]
    );
    assert_eq!(tools_list(&h, access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_grant_stored_before_references_keeps_working_and_moves_to_its_reference() {
    use mcp_oauth::store::Table;
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let (client, t) = tokens(&h).await;
    let refresh = t["refresh_token"].as_str().unwrap();
    let grant_id = refresh.split_once('.').unwrap().0;
    let reference = mcp_oauth::tokens::grants::reference(grant_id);
    // Put the grant back where an older release kept it: under the raw grant id.
    let mut item = h.store.get(Table::Grants, &reference).await.unwrap().unwrap();
    h.store.delete(Table::Grants, &reference).await.unwrap();
    item.key = grant_id.to_owned();
    h.store.put(Table::Grants, item).await.unwrap();

    let next = h.refresh(&client, refresh).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text());
    assert!(h.store.get(Table::Grants, &reference).await.unwrap().is_some());
    assert!(h.store.get(Table::Grants, grant_id).await.unwrap().is_none());
    let access = next.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(tools_list(&h, &access).await.status, StatusCode::OK);
}
