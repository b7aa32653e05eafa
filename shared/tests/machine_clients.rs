//! Machine clients: the `client_credentials` grant (RFC 6749 §4.4, MCP ext-auth SEP-1046) for
//! confidential clients registered for it, the machine principal the MCP server sees, and the
//! scope policy (registered scopes only, never a user-only one unless the operator allows it).

mod common;
mod mcp_support;

use base64::Engine;
use common::oauth::{Harness, ISSUER};
use common::{embedded, post_form};
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_oauth::clients::assertion::ASSERTION_TYPE;
use mcp_support::Session;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};

/// A service's P-256 key: its public JWK is registered, its private half signs assertions.
struct Service {
    key: p256::SecretKey,
    client_id: String,
}

impl Service {
    fn key() -> p256::SecretKey {
        loop {
            if let Ok(k) = p256::SecretKey::from_slice(&mcp_oauth::crypto::random_bytes::<32>()) {
                return k;
            }
        }
    }

    fn jwks(key: &p256::SecretKey) -> Value {
        let mut jwk: Value = serde_json::from_str(&key.public_key().to_jwk_string()).unwrap();
        jwk["kid"] = "svc-1".into();
        json!({"keys": [jwk]})
    }

    /// Registers a `private_key_jwt` machine client with `scope`.
    async fn register(h: &Harness, scope: &str) -> Service {
        let key = Service::key();
        let reply = h
            .register(json!({
                "client_name": "Nightly Job",
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": Service::jwks(&key),
                "scope": scope,
            }))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let client_id = reply.json()["client_id"].as_str().unwrap().to_owned();
        Service { key, client_id }
    }

    fn assertion(&self, now: i64) -> String {
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": format!("{ISSUER}/api/oauth/token"),
            "exp": now + 60,
            "iat": now,
            "jti": mcp_oauth::crypto::random_id(),
        });
        let pem = self.key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("svc-1".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
    }

    async fn token(&self, h: &Harness, scope: Option<&str>) -> common::Reply {
        let assertion = self.assertion(h.store.clock().now());
        let mut fields = vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        if let Some(scope) = scope {
            fields.push(("scope", scope));
        }
        h.call(post_form("/api/oauth/token", &fields)).await
    }

    /// A session at /mcp with this service's token.
    async fn session(&self, h: &Harness) -> Session {
        let reply = self.token(h, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        Session {
            h: h.clone(),
            token: reply.json()["access_token"].as_str().unwrap().to_owned(),
            email: String::new(),
        }
    }
}

fn harness(vars: &[(&str, &str)]) -> (Harness, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    (Harness::with_config(store, vars), dir)
}

/// The claims of a JWT, unverified (the tests read what the server signed).
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

const TOOLS: &str = "mcp:tools:read mcp:tools:execute";

#[tokio::test]
async fn metadata_advertises_the_client_credentials_grant() {
    let (h, _d) = harness(&[]);
    let meta = h
        .call(common::get("/.well-known/oauth-authorization-server"))
        .await
        .json();
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("client_credentials"))
    );
}

#[tokio::test]
async fn a_service_with_a_p256_key_gets_a_machine_token_and_calls_tools() {
    let (h, _d) = harness(&[]);
    let service = Service::register(&h, TOOLS).await;
    let reply = service.token(&h, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert!(body.get("refresh_token").is_none(), "RFC 6749 §4.4.3: no refresh token");
    assert_eq!(body["scope"], TOOLS);
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], format!("client:{}", service.client_id));
    assert_eq!(claims["client_id"], service.client_id.as_str());
    assert_eq!(claims["machine"], true);
    assert!(claims.get("gid").is_none(), "no grant stands behind a machine token");

    let s = service.session(&h).await;
    let list = s.legacy("tools/list", json!({})).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    assert!(list.json()["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()));
    let added = s.call_tool("notes_add", json!({"text": "from the nightly job"})).await;
    assert_eq!(added["isError"], false, "{added}");
    let listed = s.call_tool("notes_list", json!({})).await;
    assert_eq!(listed["structuredContent"]["notes"][0]["text"], "from the nightly job");
}

#[tokio::test]
async fn machine_notes_are_kept_per_client() {
    let (h, _d) = harness(&[]);
    let a = Service::register(&h, TOOLS).await.session(&h).await;
    let b = Service::register(&h, TOOLS).await.session(&h).await;
    let added = a.call_tool("notes_add", json!({"text": "a's note"})).await;
    let id = added["structuredContent"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        b.call_tool("notes_list", json!({})).await["structuredContent"]["notes"],
        json!([])
    );
    assert_eq!(b.call_tool("notes_get", json!({"id": id})).await["isError"], true);
    assert_eq!(
        a.call_tool("notes_get", json!({"id": id})).await["structuredContent"]["text"],
        "a's note"
    );
}

#[tokio::test]
async fn a_machine_client_never_gets_a_user_only_scope_by_default() {
    let (h, _d) = harness(&[]);
    let service = Service::register(&h, "mcp:tools:read mcp:tools:execute profile:read").await;
    let reply = service.token(&h, None).await;
    assert_eq!(reply.json()["scope"], TOOLS, "the default leaves profile:read out");
    let asked = service.token(&h, Some("profile:read")).await;
    assert_eq!(asked.status, StatusCode::BAD_REQUEST);
    assert_eq!(asked.json()["error"], "invalid_scope");
}

#[tokio::test]
async fn whoami_answers_with_the_client_when_the_operator_allows_profile_read_for_machines() {
    let (h, _d) = harness(&[("MACHINE_SCOPES_ALLOWED", "profile:read")]);
    let service = Service::register(&h, "mcp:tools:read mcp:tools:execute profile:read").await;
    let s = service.session(&h).await;
    let me = s.call_tool("whoami", json!({})).await;
    assert_eq!(me["isError"], false, "{me}");
    assert_eq!(me["structuredContent"]["client_id"], service.client_id.as_str());
    assert_eq!(me["structuredContent"]["machine"], true);
    assert!(me["structuredContent"].get("email").is_none());
}

#[tokio::test]
async fn machine_scopes_allowed_accepts_only_user_only_scopes() {
    // Which scopes are user-only is the catalog's to say, so the state checks it at start.
    let (bad, _d) = harness(&[("MACHINE_SCOPES_ALLOWED", "mcp:tools:read")]);
    let refused = bad
        .state
        .check()
        .expect_err("a scope machines have anyway is a configuration mistake");
    assert!(refused.to_string().contains("mcp:tools:read"), "{refused}");
    let (good, _d) = harness(&[("MACHINE_SCOPES_ALLOWED", "profile:read")]);
    assert!(good.state.check().is_ok());
}

#[tokio::test]
async fn a_machine_client_gets_at_most_its_registered_scopes() {
    let (h, _d) = harness(&[]);
    let service = Service::register(&h, "mcp:tools:read").await;
    let reply = service.token(&h, Some("mcp:tools:read mcp:tools:execute")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_scope");
    let narrow = service.token(&h, Some("mcp:tools:read")).await;
    assert_eq!(narrow.status, StatusCode::OK, "{}", narrow.text());
}

#[tokio::test]
async fn a_machine_client_that_registered_no_scope_gets_invalid_scope() {
    let (h, _d) = harness(&[]);
    let service = Service::register(&h, "claudeai").await;
    let reply = service.token(&h, None).await;
    assert_eq!(reply.json()["error"], "invalid_scope", "{}", reply.text());
}

#[tokio::test]
async fn client_credentials_from_a_public_client_is_unauthorized_client() {
    let (h, _d) = harness(&[]);
    let public = h.public_client().await;
    let reply = h
        .call(post_form(
            "/api/oauth/token",
            &[("grant_type", "client_credentials"), ("client_id", &public.id)],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.json()["error"], "unauthorized_client");
}

#[tokio::test]
async fn client_credentials_for_a_client_not_registered_for_it_is_unauthorized_client() {
    let (h, _d) = harness(&[]);
    let app = h.confidential_client().await;
    let reply = h
        .call(post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app.id),
                ("client_secret", app.secret.as_deref().unwrap()),
            ],
        ))
        .await;
    assert_eq!(reply.json()["error"], "unauthorized_client", "{}", reply.text());
}

#[tokio::test]
async fn a_secret_client_registered_for_client_credentials_gets_a_token_with_basic() {
    let (h, _d) = harness(&[]);
    let reply = h
        .register(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "mcp:tools:read",
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    let (id, secret) = (
        body["client_id"].as_str().unwrap(),
        body["client_secret"].as_str().unwrap(),
    );
    let mut req = post_form("/api/oauth/token", &[("grant_type", "client_credentials")]);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    req.headers_mut()
        .insert("authorization", format!("Basic {basic}").parse().unwrap());
    let token = h.call(req).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text());
    assert_eq!(token.json()["scope"], "mcp:tools:read");
    // A wrong secret is invalid_client with the Basic challenge, as for every grant.
    let mut req = post_form("/api/oauth/token", &[("grant_type", "client_credentials")]);
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{id}:wrong"));
    req.headers_mut()
        .insert("authorization", format!("Basic {wrong}").parse().unwrap());
    let refused = h.call(req).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.header("www-authenticate").is_some());
}

#[tokio::test]
async fn registration_for_client_credentials_needs_a_confidential_client_and_no_redirect_uri() {
    let (h, _d) = harness(&[]);
    let public = h
        .register(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(public.json()["error"], "invalid_client_metadata", "{}", public.text());
    let with_code_types = h
        .register(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post",
            "response_types": ["code"],
        }))
        .await;
    assert_eq!(with_code_types.json()["error"], "invalid_client_metadata");
    let only_refresh = h
        .register(json!({"grant_types": ["refresh_token"], "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    assert_eq!(
        only_refresh.json()["error"],
        "invalid_client_metadata",
        "no usable grant"
    );
    let code_without_redirect = h
        .register(json!({"grant_types": ["authorization_code", "client_credentials"], "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    assert_eq!(code_without_redirect.json()["error"], "invalid_redirect_uri");
}

#[tokio::test]
async fn a_user_token_cannot_claim_a_machine_subject_at_mcp() {
    // A token whose `machine` flag and `sub` disagree is refused, whichever way round.
    let (h, _d) = harness(&[]);
    let scope = vec!["mcp:tools:read".to_owned()];
    let now = h.store.clock().now();
    for (user_id, machine) in [("client:c1", false), ("user-1", true)] {
        let grant = mcp_oauth::tokens::access::AccessGrant {
            issuer: ISSUER,
            user_id,
            client_id: "c1",
            resource: common::oauth::RESOURCE,
            scope: &scope,
            grant_ref: None,
            machine,
        };
        let (jwt, _) = mcp_oauth::tokens::access::mint(&h.state.keys, &grant, now, 3600)
            .await
            .unwrap();
        let s = Session {
            h: h.clone(),
            token: jwt,
            email: String::new(),
        };
        let reply = s.legacy("tools/list", json!({})).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{user_id}: {}", reply.text());
    }
}
