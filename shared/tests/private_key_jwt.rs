//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): registration
//! with `jwks` or `jwks_uri`, assertions at the token and revocation endpoints, and every way an
//! assertion can be wrong (each one 401 `invalid_client`, with nothing stored).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use common::oauth::{Harness, ISSUER, RESOURCE, TestClient};
use common::{embedded, post_form};
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_oauth::clients::assertion::{ASSERTION_TYPE, jti_key};
use mcp_oauth::store::Table;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};

/// A client's P-256 signing key.
struct Signer {
    key: p256::SecretKey,
    kid: String,
}

impl Signer {
    fn new(kid: &str) -> Signer {
        let key = loop {
            if let Ok(k) = p256::SecretKey::from_slice(&mcp_oauth::crypto::random_bytes::<32>()) {
                break k;
            }
        };
        Signer { key, kid: kid.into() }
    }

    /// The public key as a JWK, with its `kid`.
    fn jwk(&self) -> Value {
        let mut jwk: Value = serde_json::from_str(&self.key.public_key().to_jwk_string()).unwrap();
        jwk["kid"] = self.kid.clone().into();
        jwk["use"] = "sig".into();
        jwk
    }

    fn jwks(&self) -> Value {
        json!({"keys": [self.jwk()]})
    }

    fn sign(&self, claims: &Value) -> String {
        let pem = self.key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
    }
}

/// The claims of a good assertion for `client_id` at `now`.
fn claims(client_id: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "exp": now + 60,
        "iat": now,
        "jti": mcp_oauth::crypto::random_id(),
    })
}

fn harness(vars: &[(&str, &str)]) -> (Harness, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    (Harness::with_config(store, vars), dir)
}

async fn register(h: &Harness, keys: (&str, Value)) -> TestClient {
    let reply = h
        .register(json!({
            "client_name": "Key Client",
            "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "private_key_jwt",
            keys.0: keys.1,
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert!(
        body.get("client_secret").is_none(),
        "a private_key_jwt client gets no secret"
    );
    TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: None,
        redirect_uri: "https://app.example.com/callback".into(),
        verifier: mcp_oauth::crypto::random_token(),
    }
}

/// A code redemption authenticated by `assertion` (client_id sent as well).
async fn redeem_with(h: &Harness, client: &TestClient, code: &str, assertion: &str) -> common::Reply {
    h.call(post_form(
        "/api/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &client.verifier),
            ("resource", RESOURCE),
            ("client_id", &client.id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    ))
    .await
}

fn assert_invalid_client(reply: &common::Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    assert_eq!(reply.json()["error"], "invalid_client", "{}", reply.text());
}

/// True when a `jti` record exists for the assertion's claims.
async fn jti_recorded(h: &Harness, client: &TestClient, claims: &Value) -> bool {
    let key = jti_key(&client.id, claims["jti"].as_str().unwrap());
    h.store.get(Table::Tickets, &key).await.unwrap().is_some()
}

#[tokio::test]
async fn metadata_advertises_private_key_jwt_and_its_algorithms() {
    let (h, _d) = harness(&[]);
    let meta = h
        .call(common::get("/.well-known/oauth-authorization-server"))
        .await
        .json();
    for field in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert!(
            meta[field].as_array().unwrap().contains(&json!("private_key_jwt")),
            "{field}"
        );
    }
    for field in [
        "token_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        let algs = meta[field].as_array().unwrap();
        assert!(algs.contains(&json!("ES256")), "{field}");
        assert!(
            !algs
                .iter()
                .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS")),
            "{field}"
        );
    }
}

#[tokio::test]
async fn private_key_jwt_without_jwks_or_jwks_uri_is_invalid_client_metadata() {
    let (h, _d) = harness(&[]);
    let reply = h
        .register(json!({
            "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "private_key_jwt",
        }))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn registered_jwks_must_hold_public_signing_keys_only() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let mut private = signer.jwk();
    private["d"] = "AAAA".into();
    let too_many: Vec<Value> = (0..11).map(|_| signer.jwk()).collect();
    for jwks in [
        json!({"keys": [private]}),
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
        json!({"keys": too_many}),
        json!({"keys": []}),
        json!("not a key set"),
    ] {
        let reply = h
            .register(json!({
                "redirect_uris": ["https://app.example.com/callback"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": jwks,
            }))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{jwks}");
        assert_eq!(reply.json()["error"], "invalid_client_metadata", "{jwks}");
    }
}

#[tokio::test]
async fn a_jwks_uri_must_be_an_https_url() {
    let (h, _d) = harness(&[]);
    for uri in [
        "http://keys.example.com/jwks",
        "not a url",
        "https://user@keys.example.com/jwks",
    ] {
        let reply = h
            .register(json!({
                "redirect_uris": ["https://app.example.com/callback"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": uri,
            }))
            .await;
        assert_eq!(reply.json()["error"], "invalid_client_metadata", "{uri}");
    }
}

#[tokio::test]
async fn a_private_key_jwt_client_redeems_its_code_with_a_signed_assertion() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let code = h.code_for(&client).await;
    let now = h.store.clock().now();
    let reply = redeem_with(&h, &client, &code, &signer.sign(&claims(&client.id, now))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.json()["access_token"].is_string());
}

#[tokio::test]
async fn an_assertion_naming_the_token_endpoint_as_audience_is_accepted_and_client_id_may_be_omitted() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let code = h.code_for(&client).await;
    let mut c = claims(&client.id, h.store.clock().now());
    c["aud"] = json!([format!("{ISSUER}/api/oauth/token")]);
    let reply = h
        .call(post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &client.verifier),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &signer.sign(&c)),
            ],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn a_replayed_assertion_is_invalid_client() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let assertion = signer.sign(&claims(&client.id, h.store.clock().now()));
    let first = h.code_for(&client).await;
    assert_eq!(
        redeem_with(&h, &client, &first, &assertion).await.status,
        StatusCode::OK
    );
    let second = h.code_for(&client).await;
    let reply = redeem_with(&h, &client, &second, &assertion).await;
    assert_invalid_client(&reply);
    assert!(reply.json()["error_description"].as_str().unwrap().contains("jti"));
}

/// Each claim set is signed correctly by the client's key but breaks one rule.
#[tokio::test]
async fn assertions_breaking_a_claim_rule_are_invalid_client_and_store_nothing() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let code = h.code_for(&client).await;
    let now = h.store.clock().now();
    let cases: Vec<(&str, Value)> = vec![
        ("expired", json!({"exp": now - 120})),
        ("exp too far ahead", json!({"exp": now + 3600})),
        ("no exp", json!({"exp": null})),
        ("not yet valid", json!({"nbf": now + 600})),
        ("issued in the future", json!({"iat": now + 600})),
        ("wrong audience", json!({"aud": "https://other.example.com"})),
        ("wrong issuer", json!({"iss": "someone-else"})),
        ("no jti", json!({"jti": null})),
    ];
    for (why, change) in cases {
        let mut c = claims(&client.id, now);
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        if c.get("jti").is_none() {
            let reply = redeem_with(&h, &client, &code, &signer.sign(&c)).await;
            assert_invalid_client(&reply);
            continue;
        }
        let reply = redeem_with(&h, &client, &code, &signer.sign(&c)).await;
        assert_invalid_client(&reply);
        assert!(
            !jti_recorded(&h, &client, &c).await,
            "{why}: a refused assertion left a jti record"
        );
    }
    // The code was never touched: a good assertion still redeems it.
    let good = signer.sign(&claims(&client.id, now));
    assert_eq!(redeem_with(&h, &client, &code, &good).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_assertion_signed_by_an_unknown_key_is_invalid_client() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let code = h.code_for(&client).await;
    let c = claims(&client.id, h.store.clock().now());
    for stranger in [Signer::new("k1"), Signer::new("k2")] {
        let reply = redeem_with(&h, &client, &code, &stranger.sign(&c)).await;
        assert_invalid_client(&reply);
    }
    assert!(!jti_recorded(&h, &client, &c).await);
}

#[tokio::test]
async fn hmac_and_unsigned_assertions_are_invalid_client() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let code = h.code_for(&client).await;
    let c = claims(&client.id, h.store.clock().now());
    // HS256 keyed with the public key's own text: the classic algorithm-confusion attack.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let key = EncodingKey::from_secret(signer.jwk().to_string().as_bytes());
    let hmac = jsonwebtoken::encode(&header, &c, &key).unwrap();
    let b64 = |v: &Value| mcp_oauth::crypto::b64(v.to_string().as_bytes());
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "k1"})), b64(&c));
    let off_list = format!("{}.{}.AAAA", b64(&json!({"alg": "PS256", "kid": "k1"})), b64(&c));
    for assertion in [hmac, unsigned, off_list] {
        let reply = redeem_with(&h, &client, &code, &assertion).await;
        assert_invalid_client(&reply);
    }
    assert!(!jti_recorded(&h, &client, &c).await);
}

#[tokio::test]
async fn a_private_key_jwt_client_using_basic_gets_invalid_client_with_a_challenge() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let code = h.code_for(&client).await;
    let mut req = post_form(
        "/api/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &client.verifier),
        ],
    );
    let basic = mcp_oauth::crypto::b64(format!("{}:guess", client.id).as_bytes());
    req.headers_mut()
        .insert("authorization", format!("Basic {basic}").parse().unwrap());
    let reply = h.call(req).await;
    assert_invalid_client(&reply);
    assert!(reply.header("www-authenticate").is_some_and(|v| v.starts_with("Basic")));
}

#[tokio::test]
async fn a_secret_client_sending_an_assertion_is_invalid_client() {
    let (h, _d) = harness(&[]);
    let client = h.confidential_client().await;
    let signer = Signer::new("k1");
    let reply = h
        .call(post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", &client.id),
                ("client_assertion_type", ASSERTION_TYPE),
                (
                    "client_assertion",
                    &signer.sign(&claims(&client.id, h.store.clock().now())),
                ),
            ],
        ))
        .await;
    assert_invalid_client(&reply);
}

#[tokio::test]
async fn a_private_key_jwt_client_revokes_its_refresh_token_with_an_assertion() {
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let client = register(&h, ("jwks", signer.jwks())).await;
    let code = h.code_for(&client).await;
    let now = h.store.clock().now();
    let tokens = redeem_with(&h, &client, &code, &signer.sign(&claims(&client.id, now)))
        .await
        .json();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let mut c = claims(&client.id, now);
    c["aud"] = format!("{ISSUER}/api/oauth/revoke").into();
    let revoke = |assertion: String| {
        post_form(
            "/api/oauth/revoke",
            &[
                ("token", refresh),
                ("client_id", &client.id),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
        )
    };
    let bad = Signer::new("k1").sign(&c);
    assert_invalid_client(&h.call(revoke(bad)).await);
    assert_eq!(h.call(revoke(signer.sign(&c))).await.status, StatusCode::OK);
    let again = h
        .call(post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", &client.id),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &signer.sign(&claims(&client.id, now))),
            ],
        ))
        .await;
    assert_eq!(again.json()["error"], "invalid_grant", "the grant was revoked");
}

/// Serves `body` with `status` at `/jwks` on loopback; counts requests. Returns the URL.
async fn serve_keys(status: StatusCode, body: String, location: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/jwks", listener.local_addr().unwrap().port());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/jwks",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move {
                let mut res = (status, [("content-type", "application/json")], body).into_response();
                if let Some(to) = location {
                    res.headers_mut().insert("location", to.parse().unwrap());
                }
                res
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

use axum::response::IntoResponse;

#[tokio::test]
async fn keys_from_a_jwks_uri_are_fetched_once_and_cached() {
    let (h, _d) = harness(&[("CIMD_ALLOW_LOOPBACK", "1")]);
    let signer = Signer::new("k1");
    let (url, hits) = serve_keys(StatusCode::OK, signer.jwks().to_string(), None).await;
    let client = register(&h, ("jwks_uri", url.into())).await;
    for _ in 0..2 {
        let code = h.code_for(&client).await;
        let assertion = signer.sign(&claims(&client.id, h.store.clock().now()));
        let reply = redeem_with(&h, &client, &code, &assertion).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_jwks_uri_that_fails_makes_every_assertion_invalid_client() {
    let (h, _d) = harness(&[("CIMD_ALLOW_LOOPBACK", "1")]);
    let signer = Signer::new("k1");
    let huge = json!({"keys": [signer.jwk()], "padding": "x".repeat(20 * 1024)}).to_string();
    let (too_large, _) = serve_keys(StatusCode::OK, huge, None).await;
    let (redirecting, _) = serve_keys(StatusCode::FOUND, String::new(), Some("https://example.com/jwks")).await;
    let (not_found, _) = serve_keys(StatusCode::NOT_FOUND, String::new(), None).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/jwks", l.local_addr().unwrap().port())
    };
    for (why, url) in [
        ("too large", too_large),
        ("redirecting", redirecting),
        ("404", not_found),
        ("unreachable", closed),
    ] {
        let client = register(&h, ("jwks_uri", url.into())).await;
        let code = h.code_for(&client).await;
        let c = claims(&client.id, h.store.clock().now());
        let reply = redeem_with(&h, &client, &code, &signer.sign(&c)).await;
        assert_invalid_client(&reply);
        assert!(!jti_recorded(&h, &client, &c).await, "{why}");
    }
}

#[tokio::test]
async fn a_jwks_uri_on_a_private_address_is_not_fetched() {
    // Without CIMD_ALLOW_LOOPBACK, loopback is as private as any other special-purpose range.
    let (h, _d) = harness(&[]);
    let signer = Signer::new("k1");
    let (url, hits) = serve_keys(StatusCode::OK, signer.jwks().to_string(), None).await;
    let localhost = url.replace("127.0.0.1", "localhost");
    // https to a name that resolves to loopback: refused by the resolver, before any connection.
    let https_localhost = localhost.replace("http://", "https://");
    for uri in [url, localhost, https_localhost] {
        let client = register(&h, ("jwks_uri", uri.clone().into())).await;
        let code = h.code_for(&client).await;
        let reply = redeem_with(
            &h,
            &client,
            &code,
            &signer.sign(&claims(&client.id, h.store.clock().now())),
        )
        .await;
        assert_invalid_client(&reply);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

/// Serves a Client ID Metadata Document (with `{url}` replaced by its own URL) on loopback.
async fn serve_document(doc: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/oauth/client.json",
        listener.local_addr().unwrap().port()
    );
    let body = doc.to_string().replace("{url}", &url);
    let app = Router::new().route(
        "/oauth/client.json",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn document_client(url: &str) -> TestClient {
    TestClient {
        id: url.to_owned(),
        secret: None,
        redirect_uri: "http://127.0.0.1:7777/callback".into(),
        verifier: mcp_oauth::crypto::random_token(),
    }
}

#[tokio::test]
async fn a_metadata_document_client_with_private_key_jwt_completes_the_flow_with_an_assertion() {
    let (h, _d) = harness(&[("CIMD_ALLOW_LOOPBACK", "1")]);
    let signer = Signer::new("doc-key");
    let url = serve_document(json!({
        "client_id": "{url}",
        "client_name": "Confidential Doc Client",
        "redirect_uris": ["http://127.0.0.1:7777/callback"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": signer.jwks(),
    }))
    .await;
    let client = document_client(&url);
    let params = h
        .sign_up_and_approve(&mut h.browser(), &client, "keydoc@example.com", &[])
        .await;
    let code = &params["code"];
    // The document says private_key_jwt: the client_id alone no longer redeems the code.
    let public_try = h.redeem(&client, code).await;
    assert_invalid_client(&public_try);
    let assertion = signer.sign(&claims(&client.id, h.store.clock().now()));
    let reply = redeem_with(&h, &client, code, &assertion).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn a_metadata_document_declaring_a_shared_secret_method_is_refused() {
    let (h, _d) = harness(&[("CIMD_ALLOW_LOOPBACK", "1")]);
    let url = serve_document(json!({
        "client_id": "{url}",
        "redirect_uris": ["http://127.0.0.1:7777/callback"],
        "token_endpoint_auth_method": "client_secret_post",
    }))
    .await;
    let client = document_client(&url);
    let reply = h.call(common::get(&Harness::authorize_url(&client, &[]))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
}

#[tokio::test]
async fn a_metadata_document_declaring_private_key_jwt_without_keys_is_refused() {
    let (h, _d) = harness(&[("CIMD_ALLOW_LOOPBACK", "1")]);
    let url = serve_document(json!({
        "client_id": "{url}",
        "redirect_uris": ["http://127.0.0.1:7777/callback"],
        "token_endpoint_auth_method": "private_key_jwt",
    }))
    .await;
    let client = document_client(&url);
    let reply = h.call(common::get(&Harness::authorize_url(&client, &[]))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
}

/// Test-only keys (generated with openssl for this file; they protect nothing).
const RSA_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCq8O3VdTGXtBnS
fK7nSkJId0iNSCdZXRTokeo8REjfRtUzTHT+5aEgfR2Rn2L2h/bKzny44pgaYZDc
xPTcUTUyLw+nF/pFfujFxiD8Guvotn5v3jBgQs7sAsRdTLbig+IK5eCSkPSi3Teb
Y9OXNitCsd2aDRB066glQ+Wv95aZeN4g1V8YzSh2VYtPQgCv9hVfy766A/3DTs4W
u+Xdm4Kz/kr7cDxZU4C4/AdoI3IxQHJRtR2oIr9BYUJjcgTwmOdT83o2VYcDeh2A
9BE2kVztsYxifBmPnO0TA7eYi5te4JAPxbnF+893h9hIVX10F5glBOCeld3vp3lo
dBbhSSA1AgMBAAECggEACQMdFDO9XW6jgos2m2oOVuIMY1UfrKCcLBYZSnvHzcG0
bCPGnUj/oYYHION4JQrjsiszEc+cePOWNBV22rC2BG3NE6BPfl94/TL7ZTSJeyI3
8Jo/DwF8BZ8FuZeETX/qKGyYgOb/MXZGlWeCGHGaKUYq/+awF0H0rPZImJTjOIxm
fE9/fJ4vFnjf4fkJuDH+Wzf8e1cFOHq8ejxUBrNiT3SArOxGKnk3oNZLhrQWEwfA
6pPLXc2ODsfBNQjm48dH+rBFN+CurOYKNzj/R+AcXsRqeE4Lt5YVJ4mviAlxVsxo
YdpDTYOurnJqvWED0ODWLyKGJJOaqq+PbGdpbblq4QKBgQDhdBv03eDM0K0NUPWG
Hyef4boQkPtu7Ruu/QV2PIGkx8gjQoWcCwmr0A11vD1/3ef0yWPjMIAx/B49wBlN
I2yBZqYH0K4eXqnDr9ekPkOa6p3n3LCVxD7TNbXTLGPOWb4F3o+qynlnpERxI4w+
sBlXaU+r6UyD1yJexKMqW4+p8QKBgQDCGgxTliR60N5xHNfFDD1+hz5RdZ6gbv4p
SkguIT/stCAdkJ0+MJLnSwK4RgNznqXuyD43MzeGJS54i7pTzQ/dsuZLB+wy/shX
J59PDv8Kqw8bAQVkLzV+QAgBj6jnJPBqYzM7RNY54PA1YaI++8LAnjdXFFDar4Cj
WsLlWZ02hQKBgBucNphEW/V5UNgipA7q3dVstXa16rTpAMzrW7HhMxdVCCOZT/eO
On76GcvjY7y3FmMaDsuR8wEsGSAC2JZj0jP+uDKY0doSScQXUtdgcLMWLIRquI1+
3RrMpxnXg9mPj//0A7As37Vbnq4kZlZ/Bnt4ADPTfHVg8WqdtkXHtM5hAoGAOOyS
uODLigk/c0TWMr/IORdIu3MXNk3W1B0o1f6CVNTupj0HIHn2W0awYYKG+J2KZGDt
fhrTKdA1tLylxHXbNVWGHHMSXlJCRu0j13e6bFKGd5DxF9SQh5oXvv12t3Mp3smA
+NzTRt4lFEKx5m7HSt4btLoMjFX0D/RKPCDv7lECgYEA3f2UI2vQ5aUDfe1q9YHV
cYmMhf6z6UMfDvN+LhOOnYe0VFq0b30CqFV6pSgE8lPqrlHZnzaMw1WDh0r14Isw
jMVAzQHKLMOhSTqH9Mawf1GRnU7yjpcbezLCWZtfPUCHc1hA/zVaoWEUhKFTI6mf
VgVJtnlEk162WZB279ia7Gs=
-----END PRIVATE KEY-----";
const RSA_N: &str = "qvDt1XUxl7QZ0nyu50pCSHdIjUgnWV0U6JHqPERI30bVM0x0_uWhIH0dkZ9i9of2ys58uOKYGmGQ3MT03FE1Mi8Ppxf6RX7oxcYg_Brr6LZ-b94wYELO7ALEXUy24oPiCuXgkpD0ot03m2PTlzYrQrHdmg0QdOuoJUPlr_eWmXjeINVfGM0odlWLT0IAr_YVX8u-ugP9w07OFrvl3ZuCs_5K-3A8WVOAuPwHaCNyMUByUbUdqCK_QWFCY3IE8JjnU_N6NlWHA3odgPQRNpFc7bGMYnwZj5ztEwO3mIubXuCQD8W5xfvPd4fYSFV9dBeYJQTgnpXd76d5aHQW4UkgNQ";
const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJYjjFNJD+dE7Xc6B2crAfik3/frTQoRVCUsz3Y4PtZC
-----END PRIVATE KEY-----";
const ED25519_X: &str = "dwrTGTUfMbFkngR0BLhFUKmHOg0TS-n1qzLnw-ZW6RA";

#[tokio::test]
async fn rs256_and_eddsa_assertions_are_accepted_with_their_registered_keys() {
    let (h, _d) = harness(&[]);
    let keys = json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "n": RSA_N, "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": ED25519_X},
    ]});
    let client = register(&h, ("jwks", keys)).await;
    for (alg, kid, key) in [
        (
            Algorithm::RS256,
            "rsa-1",
            EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
        ),
        (
            Algorithm::EdDSA,
            "ed-1",
            EncodingKey::from_ed_pem(ED25519_PEM.as_bytes()).unwrap(),
        ),
    ] {
        let code = h.code_for(&client).await;
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        let assertion = jsonwebtoken::encode(&header, &claims(&client.id, h.store.clock().now()), &key).unwrap();
        let reply = redeem_with(&h, &client, &code, &assertion).await;
        assert_eq!(reply.status, StatusCode::OK, "{alg:?}: {}", reply.text());
        // A key is used only for its own algorithm: the RSA key's kid on an EdDSA header fails.
        let code = h.code_for(&client).await;
        let mut crossed = Header::new(alg);
        crossed.kid = Some(if kid == "rsa-1" { "ed-1" } else { "rsa-1" }.into());
        let assertion = jsonwebtoken::encode(&crossed, &claims(&client.id, h.store.clock().now()), &key).unwrap();
        assert_invalid_client(&redeem_with(&h, &client, &code, &assertion).await);
    }
}
