//! Token introspection (RFC 7662): only a confidential client the operator listed in
//! `INTROSPECTION_CLIENTS` may ask; it learns whether a token is active and what it carries.

mod common;

use base64::Engine;
use common::oauth::{Harness, TestClient};
use common::{embedded, post_form};
use http::StatusCode;
use serde_json::{Value, json};

/// A harness whose introspection list names one confidential client, and that client.
async fn setup() -> (Harness, TestClient, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    let probe = Harness::with_config(store.clone(), &[]);
    let rs = probe.confidential_client().await;
    let h = Harness::with_config(store, &[("INTROSPECTION_CLIENTS", &rs.id)]);
    (h, rs, dir)
}

async fn introspect_as(h: &Harness, caller: &TestClient, token: &str) -> common::Reply {
    let mut fields = vec![("token", token), ("client_id", caller.id.as_str())];
    if let Some(secret) = &caller.secret {
        fields.push(("client_secret", secret));
    }
    h.call(post_form("/api/oauth/introspect", &fields)).await
}

fn assert_invalid_client(reply: &common::Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    assert_eq!(reply.json()["error"], "invalid_client");
}

#[tokio::test]
async fn metadata_advertises_the_introspection_endpoint_for_confidential_clients() {
    let (h, _, _d) = setup().await;
    let meta = h
        .call(common::get("/.well-known/oauth-authorization-server"))
        .await
        .json();
    assert_eq!(
        meta["introspection_endpoint"],
        "http://localhost:3000/api/oauth/introspect"
    );
    let methods = meta["introspection_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("private_key_jwt")));
    assert!(!methods.contains(&json!("none")));
}

#[tokio::test]
async fn a_listed_client_sees_a_live_access_token_and_refresh_token_as_active() {
    let (h, rs, _d) = setup().await;
    let (client, tokens) = h.tokens().await;
    let access = tokens["access_token"].as_str().unwrap();
    let reply = introspect_as(&h, &rs, access).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], client.id.as_str());
    assert_eq!(body["aud"], common::oauth::RESOURCE);
    assert!(body["exp"].as_i64().is_some() && body["sub"].is_string() && body["scope"].is_string());

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let body = introspect_as(&h, &rs, refresh).await.json();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["client_id"], client.id.as_str());
}

#[tokio::test]
async fn revoked_expired_and_unknown_tokens_are_inactive_and_say_nothing_more() {
    let (h, rs, _d) = setup().await;
    let (client, tokens) = h.tokens().await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    for junk in ["not-a-token", "a.b.c", "abc.def"] {
        assert_eq!(
            introspect_as(&h, &rs, junk).await.json(),
            json!({"active": false}),
            "{junk}"
        );
    }
    // Rotation: the old refresh token is no longer the current one.
    let rotated = h.refresh(&client, &refresh).await.json();
    assert_eq!(introspect_as(&h, &rs, &refresh).await.json(), json!({"active": false}));
    let successor = rotated["refresh_token"].as_str().unwrap();
    // Revoking the grant deactivates both its refresh and its access tokens.
    let revoked = h
        .call(post_form(
            "/api/oauth/revoke",
            &[("token", successor), ("client_id", &client.id)],
        ))
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(introspect_as(&h, &rs, successor).await.json(), json!({"active": false}));
    assert_eq!(introspect_as(&h, &rs, &access).await.json(), json!({"active": false}));

    // An expired access token of a live grant is inactive too.
    let (_, fresh) = h.tokens().await;
    h.store.clock().advance(h.state.config.lifetimes.access_token + 1);
    let expired = fresh["access_token"].as_str().unwrap();
    assert_eq!(introspect_as(&h, &rs, expired).await.json(), json!({"active": false}));
}

#[tokio::test]
async fn an_unlisted_or_public_caller_is_invalid_client() {
    let (h, _rs, _d) = setup().await;
    let (public, tokens) = h.tokens().await;
    let access = tokens["access_token"].as_str().unwrap();
    // The token's own client is public and not listed: it learns nothing, not even its own.
    assert_invalid_client(&introspect_as(&h, &public, access).await);
    let stranger = h.confidential_client().await;
    assert_invalid_client(&introspect_as(&h, &stranger, access).await);
    // Unlisted via Basic: the challenge comes with it.
    let mut req = post_form("/api/oauth/introspect", &[("token", access)]);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        stranger.id,
        stranger.secret.as_deref().unwrap()
    ));
    req.headers_mut()
        .insert("authorization", format!("Basic {basic}").parse().unwrap());
    let reply = h.call(req).await;
    assert_invalid_client(&reply);
    assert!(reply.header("www-authenticate").is_some());
    // No authentication at all.
    let reply = h.call(post_form("/api/oauth/introspect", &[("token", access)])).await;
    assert_invalid_client(&reply);
}

#[tokio::test]
async fn a_listed_client_with_a_wrong_secret_is_invalid_client() {
    let (h, rs, _d) = setup().await;
    let (_, tokens) = h.tokens().await;
    let wrong = TestClient {
        secret: Some("wrong".into()),
        ..rs
    };
    assert_invalid_client(&introspect_as(&h, &wrong, tokens["access_token"].as_str().unwrap()).await);
}

#[tokio::test]
async fn a_listed_public_client_is_still_refused() {
    let (store, _, _dir) = embedded();
    let probe = Harness::with_config(store.clone(), &[]);
    let public = probe.public_client().await;
    let h = Harness::with_config(store, &[("INTROSPECTION_CLIENTS", &public.id)]);
    let (_, tokens) = h.tokens().await;
    assert_invalid_client(&introspect_as(&h, &public, tokens["access_token"].as_str().unwrap()).await);
}

#[tokio::test]
async fn a_machine_token_is_active_and_marked_as_such() {
    let (store, _, _dir) = embedded();
    let probe = Harness::with_config(store.clone(), &[]);
    let rs = probe.confidential_client().await;
    let reply = probe
        .register(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "mcp:tools:read",
        }))
        .await;
    let m: Value = reply.json();
    let h = Harness::with_config(store, &[("INTROSPECTION_CLIENTS", &rs.id)]);
    let token = h
        .call(post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", m["client_id"].as_str().unwrap()),
                ("client_secret", m["client_secret"].as_str().unwrap()),
            ],
        ))
        .await
        .json();
    let body = introspect_as(&h, &rs, token["access_token"].as_str().unwrap())
        .await
        .json();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["machine"], true);
    assert_eq!(body["sub"], format!("client:{}", m["client_id"].as_str().unwrap()));
}
