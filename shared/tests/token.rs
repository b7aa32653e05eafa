//! The token endpoint: authorization-code grant with PKCE, refresh rotation with grace and reuse
//! detection, client authentication, and RFC 6749 §5.2 errors.

mod common;

use common::oauth::{Harness, RESOURCE};
use common::{embedded, post_form};
use http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

fn harness() -> (Harness, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    (Harness::new(store), dir)
}

fn error_of(reply: &common::Reply) -> String {
    reply.json()["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn code_exchange_returns_bearer_tokens_with_no_store_headers() {
    let (h, _d) = harness();
    let (_, body) = h.tokens().await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "mcp:tools:read mcp:tools:execute profile:read");
    assert!(body["refresh_token"].as_str().unwrap().len() > 40);
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let reply = h.redeem(&client, &code).await;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
}

#[tokio::test]
async fn access_token_is_an_es256_jwt_for_the_mcp_resource_signed_by_a_published_key() {
    let (h, _d) = harness();
    let (client, body) = h.tokens().await;
    let jwt = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks = h.call(common::get("/.well-known/jwks.json")).await.json();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| Some(k["kid"].as_str().unwrap()) == header.kid.as_deref())
        .expect("the signing key is in the JWKS");
    let decoding = DecodingKey::from_ec_components(key["x"].as_str().unwrap(), key["y"].as_str().unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&[RESOURCE]);
    v.set_issuer(&["http://localhost:3000"]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &decoding, &v).unwrap().claims;
    assert_eq!(claims["client_id"], client.id.as_str());
    assert_eq!(claims["scope"], "mcp:tools:read mcp:tools:execute profile:read");
    for claim in ["sub", "exp", "iat", "jti"] {
        assert!(!claims[claim].is_null(), "claim {claim} is missing");
    }
}

#[tokio::test]
async fn wrong_verifier_is_rejected_and_leaves_the_code_usable() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let mut wrong = client.clone();
    wrong.verifier = mcp_oauth::crypto::random_token();
    let reply = h.redeem(&wrong, &code).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&reply), "invalid_grant");
    // A failed PKCE check must not burn the code for its rightful holder.
    assert_eq!(h.redeem(&client, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn redirect_uri_other_than_the_authorization_requests_is_rejected() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let reply = h
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:8765/other"),
                ("code_verifier", &client.verifier),
            ],
        )
        .await;
    assert_eq!(error_of(&reply), "invalid_grant");
    assert_eq!(h.redeem(&client, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_malformed_verifier_is_invalid_request() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
    ];
    assert_eq!(error_of(&h.token(&client, &base).await), "invalid_request");
    let mut short = base.to_vec();
    short.push(("code_verifier", "too-short"));
    assert_eq!(error_of(&h.token(&client, &short).await), "invalid_request");
    assert_eq!(h.redeem(&client, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn code_replay_without_the_codes_binding_revokes_nothing() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let first = h.redeem(&client, &code).await.json();
    let rt = first["refresh_token"].as_str().unwrap().to_owned();
    // An unrelated client, and the right client with a guessed verifier or another redirect URI.
    let mut stranger = h.public_client().await;
    stranger.redirect_uri = "http://127.0.0.1:9999/elsewhere".into();
    let mut guessing = client.clone();
    guessing.verifier = mcp_oauth::crypto::random_token();
    let mut redirected = client.clone();
    redirected.redirect_uri = "http://127.0.0.1:8765/other".into();
    for replayer in [&stranger, &guessing, &redirected] {
        let reply = h.redeem(replayer, &code).await;
        assert_eq!(error_of(&reply), "invalid_grant", "{}", reply.text());
    }
    let refresh = h.refresh(&client, &rt).await;
    assert_eq!(refresh.status, StatusCode::OK, "the grant survives: {}", refresh.text());
    // The genuine replay is still the theft signal.
    assert_eq!(error_of(&h.redeem(&client, &code).await), "invalid_grant");
    let rt2 = refresh.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        error_of(&h.refresh(&client, &rt2).await),
        "invalid_grant",
        "now revoked"
    );
}

#[tokio::test]
async fn a_replay_after_the_code_expired_revokes_nothing() {
    let (store, clock, _d) = embedded();
    let h = Harness::new(store);
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let first = h.redeem(&client, &code).await.json();
    clock.advance(h.state.config.lifetimes.auth_code + 1);
    assert_eq!(error_of(&h.redeem(&client, &code).await), "invalid_grant");
    let refresh = h.refresh(&client, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        refresh.status,
        StatusCode::OK,
        "an expired code is unknown, and revokes nothing: {}",
        refresh.text()
    );
}

#[tokio::test]
async fn a_refresh_token_with_a_made_up_secret_revokes_nothing() {
    let (h, _d) = harness();
    let (client, tokens) = h.tokens().await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (grant_id, _) = rt.split_once('.').unwrap();
    let forged = format!("{grant_id}.{}", "A".repeat(43));
    let reply = h.refresh(&client, &forged).await;
    assert_eq!(error_of(&reply), "invalid_grant", "{}", reply.text());
    let reply = h.refresh(&client, rt).await;
    assert_eq!(reply.status, StatusCode::OK, "the grant survives: {}", reply.text());
}

#[tokio::test]
async fn code_reuse_fails_and_revokes_the_grants_refresh_token() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let first = h.redeem(&client, &code).await.json();
    let again = h.redeem(&client, &code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&again), "invalid_grant");
    let refresh = h.refresh(&client, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        error_of(&refresh),
        "invalid_grant",
        "the grant of a replayed code must be revoked"
    );
}

#[tokio::test]
async fn expired_code_is_rejected() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    h.store.clock().advance(61);
    assert_eq!(error_of(&h.redeem(&client, &code).await), "invalid_grant");
}

#[tokio::test]
async fn code_issued_to_another_client_is_rejected() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut other = h.public_client().await;
    let code = h.code_for(&client).await;
    other.verifier = client.verifier.clone();
    other.redirect_uri = client.redirect_uri.clone();
    assert_eq!(error_of(&h.redeem(&other, &code).await), "invalid_grant");
    assert_eq!(h.redeem(&client, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn foreign_resource_is_invalid_target_and_omitted_resource_means_the_mcp_url() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let reply = h
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &client.verifier),
                ("resource", "https://other.example.com/mcp"),
            ],
        )
        .await;
    assert_eq!(error_of(&reply), "invalid_target");
    let reply = h
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &client.verifier),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let (h, _d) = harness();
    let (client, first) = h.tokens().await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = h.refresh(&client, r1).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    let r2 = second.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let third = h.refresh(&client, &r2).await;
    assert_eq!(third.status, StatusCode::OK);
    assert_ne!(third.json()["refresh_token"].as_str().unwrap(), r2);
}

#[tokio::test]
async fn retry_within_grace_returns_the_same_successor_and_revokes_nothing() {
    let (h, _d) = harness();
    let (client, first) = h.tokens().await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let a = h.refresh(&client, r1).await.json();
    h.store.clock().advance(10);
    let b = h.refresh(&client, r1).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text());
    let b = b.json();
    assert_eq!(a["refresh_token"], b["refresh_token"]);
    assert_ne!(a["access_token"], b["access_token"], "a fresh access token each time");
    let next = h.refresh(&client, b["refresh_token"].as_str().unwrap()).await;
    assert_eq!(next.status, StatusCode::OK, "the grant survives a retry");
}

#[tokio::test]
async fn reuse_after_grace_revokes_the_grant() {
    let (h, _d) = harness();
    let (client, first) = h.tokens().await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let r2 = h.refresh(&client, r1).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    h.store.clock().advance(31);
    assert_eq!(error_of(&h.refresh(&client, r1).await), "invalid_grant");
    assert_eq!(
        error_of(&h.refresh(&client, &r2).await),
        "invalid_grant",
        "reuse revokes the whole grant"
    );
}

#[tokio::test]
async fn old_token_after_its_successor_was_used_is_reuse_even_within_grace() {
    let (h, _d) = harness();
    let (client, first) = h.tokens().await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let r2 = h.refresh(&client, r1).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r3 = h.refresh(&client, &r2).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(error_of(&h.refresh(&client, r1).await), "invalid_grant");
    assert_eq!(error_of(&h.refresh(&client, &r3).await), "invalid_grant");
}

#[tokio::test]
async fn scope_may_narrow_on_refresh_but_never_widen() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = h.browser();
    let params = h
        .sign_up_and_approve(
            &mut browser,
            &client,
            "narrow@example.com",
            &[("scope", "mcp:tools:read profile:read")],
        )
        .await;
    let tokens = h.redeem(&client, &params["code"]).await.json();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let wide = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "mcp:tools:read mcp:tools:execute"),
            ],
        )
        .await;
    assert_eq!(error_of(&wide), "invalid_scope");
    let narrow = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "mcp:tools:read"),
            ],
        )
        .await;
    assert_eq!(narrow.status, StatusCode::OK, "{}", narrow.text());
    assert_eq!(narrow.json()["scope"], "mcp:tools:read");
}

#[tokio::test]
async fn offline_access_is_kept_out_of_the_access_tokens_scope() {
    // It asks the authorization server for a refresh token; the resource has no use for it.
    let (h, _d) = harness();
    let client = h.public_client().await;
    let params = h
        .sign_up_and_approve(
            &mut h.browser(),
            &client,
            "offline@example.com",
            &[("scope", "mcp:tools:read offline_access")],
        )
        .await;
    let tokens = h.redeem(&client, &params["code"]).await.json();
    assert_eq!(tokens["scope"], "mcp:tools:read");
    let jwt = tokens["access_token"].as_str().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&mcp_oauth::crypto::b64_decode(payload).unwrap()).unwrap();
    assert_eq!(claims["scope"], "mcp:tools:read");
    assert!(tokens["refresh_token"].is_string());
    let refreshed = h
        .refresh(&client, tokens["refresh_token"].as_str().unwrap())
        .await
        .json();
    assert_eq!(refreshed["scope"], "mcp:tools:read");
}

#[tokio::test]
async fn grant_has_an_absolute_lifetime() {
    let (store, _, _d) = embedded();
    let h = Harness::with_config(store, &[("GRANT_TTL", "100"), ("REFRESH_GRACE", "1")]);
    let (client, first) = h.tokens().await;
    let mut rt = first["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        h.store.clock().advance(30);
        let reply = h.refresh(&client, &rt).await;
        assert_eq!(reply.status, StatusCode::OK);
        rt = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    }
    h.store.clock().advance(30);
    assert_eq!(error_of(&h.refresh(&client, &rt).await), "invalid_grant");
}

#[tokio::test]
async fn unused_refresh_token_expires() {
    let (store, _, _d) = embedded();
    let h = Harness::with_config(store, &[("REFRESH_TOKEN_TTL", "100")]);
    let (client, first) = h.tokens().await;
    h.store.clock().advance(101);
    assert_eq!(
        error_of(&h.refresh(&client, first["refresh_token"].as_str().unwrap()).await),
        "invalid_grant"
    );
}

#[tokio::test]
async fn refresh_token_of_another_client_is_rejected_without_revoking() {
    let (h, _d) = harness();
    let (client, first) = h.tokens().await;
    let other = h.public_client().await;
    let rt = first["refresh_token"].as_str().unwrap();
    assert_eq!(error_of(&h.refresh(&other, rt).await), "invalid_grant");
    assert_eq!(h.refresh(&client, rt).await.status, StatusCode::OK);
}

#[tokio::test]
async fn confidential_client_with_wrong_secret_gets_401_invalid_client() {
    let (h, _d) = harness();
    let client = h.confidential_client().await;
    let code = h.code_for(&client).await;
    let mut wrong = client.clone();
    wrong.secret = Some("not-the-secret".into());
    let reply = h.redeem(&wrong, &code).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&reply), "invalid_client");
    assert_eq!(
        h.redeem(&client, &code).await.status,
        StatusCode::OK,
        "failed client auth leaves the code"
    );
}

#[tokio::test]
async fn basic_auth_failure_answers_with_www_authenticate_basic() {
    let (h, _d) = harness();
    let client = h.confidential_client().await;
    let basic = mcp_oauth::crypto::b64(format!("{}:wrong", client.id).as_bytes());
    let mut req = post_form(
        "/api/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    );
    req.headers_mut().insert(
        "authorization",
        format!("Basic {}", basic.replace('-', "+").replace('_', "/"))
            .parse()
            .unwrap(),
    );
    let reply = h.call(req).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.header("www-authenticate").unwrap().starts_with("Basic"),
        "{:?}",
        reply.headers
    );
}

#[tokio::test]
async fn public_client_cannot_use_a_confidential_clients_id_without_its_secret() {
    let (h, _d) = harness();
    let client = h.confidential_client().await;
    let code = h.code_for(&client).await;
    let mut public = client.clone();
    public.secret = None;
    let reply = h.redeem(&public, &code).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&reply), "invalid_client");
}

#[tokio::test]
async fn unknown_client_is_invalid_client() {
    let (h, _d) = harness();
    let mut client = h.public_client().await;
    client.id = "nobody".into();
    let reply = h.refresh(&client, "x.y").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&reply), "invalid_client");
}

#[tokio::test]
async fn malformed_requests_get_rfc_6749_errors() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    assert_eq!(
        error_of(&h.token(&client, &[("grant_type", "password")]).await),
        "unsupported_grant_type"
    );
    assert_eq!(error_of(&h.token(&client, &[]).await), "invalid_request");
    let json = h
        .call(common::post_json(
            "/api/oauth/token",
            &serde_json::json!({"grant_type": "refresh_token"}),
        ))
        .await;
    assert_eq!(
        (json.status, error_of(&json).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let repeated = h
        .call(post_form(
            "/api/oauth/token",
            &[("grant_type", "refresh_token"), ("grant_type", "authorization_code")],
        ))
        .await;
    assert_eq!(error_of(&repeated), "invalid_request");
    let big = "x".repeat(20_000);
    let oversize = h.call(post_form("/api/oauth/token", &[("grant_type", &big)])).await;
    assert_eq!(oversize.status, StatusCode::PAYLOAD_TOO_LARGE);
    let get = h.call(common::get("/api/oauth/token")).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(get.header("allow").unwrap().contains("POST"));
}

#[tokio::test]
async fn token_endpoint_allows_cross_origin_calls_from_browser_clients() {
    let (h, _d) = harness();
    let req = http::Request::builder()
        .method("OPTIONS")
        .uri("/api/oauth/token")
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = h.call(req).await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("*"),
        "{:?} {:?}",
        reply.status,
        reply.headers
    );
}

#[tokio::test]
async fn each_grant_makes_at_most_three_store_calls() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    h.state.keys.signer().await.unwrap();
    let before = h.store.calls();
    let tokens = h.redeem(&client, &code).await.json();
    assert!(
        h.store.calls() - before <= 3,
        "authorization_code used {} calls",
        h.store.calls() - before
    );
    let before = h.store.calls();
    h.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert!(
        h.store.calls() - before <= 3,
        "refresh_token used {} calls",
        h.store.calls() - before
    );
}
