//! Dynamic client registration (RFC 7591) as a client sees it: what registers, what is refused
//! with which RFC 7591 §3.2.2 error, the rate limit, CORS, and the Lambda event path.

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use common::{Reply, config_with, post_json, send};
use http::{Request, StatusCode};
use mcp_oauth::app::function;
use mcp_oauth::clients;
use mcp_oauth::clients::metadata;
use mcp_oauth::crypto::sha256_b64;
use mcp_oauth::endpoints::register;
use mcp_oauth::store::{Store, Table};
use serde_json::{Value, json};

const PATH: &str = "/api/oauth/register";

fn app(store: Store, vars: &[(&str, &str)]) -> Router {
    function(register::routes, common::new_state(config_with(vars), store))
}

/// The registration function on a fresh embedded store.
fn embedded_app() -> (Router, Store, tempfile::TempDir) {
    let (store, _clock, dir) = common::embedded();
    (app(store.clone(), &[]), store, dir)
}

fn minimal() -> Value {
    json!({"redirect_uris": ["https://app.example.com/callback"]})
}

fn with(extra: Value) -> Value {
    let mut body = minimal();
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    body
}

async fn register_json(router: &Router, body: Value) -> Reply {
    send(router, post_json(PATH, &body)).await
}

async fn register_once(body: Value) -> Reply {
    let (router, _store, _dir) = embedded_app();
    register_json(&router, body).await
}

fn from(ip: [u8; 4], mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    req
}

fn assert_error(r: &Reply, status: StatusCode, error: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

// ---- what registers --------------------------------------------------------------------------

#[tokio::test]
async fn public_registration_is_the_default() {
    let r = register_once(minimal()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    let body = r.json();
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["redirect_uris"], json!(["https://app.example.com/callback"]));
    assert!(body["client_id"].as_str().is_some_and(|id| id.len() >= 22), "{body}");
    assert!(body["client_id_issued_at"].as_i64().is_some(), "{body}");
    assert!(
        body.get("client_secret").is_none(),
        "a public client gets no secret: {body}"
    );
    assert!(body.get("client_secret_expires_at").is_none(), "{body}");
}

#[tokio::test]
async fn client_ids_are_random_and_distinct() {
    let (router, _store, _dir) = embedded_app();
    let a = register_json(&router, minimal()).await.json();
    let b = register_json(&router, minimal()).await.json();
    assert_ne!(a["client_id"], b["client_id"]);
}

#[tokio::test]
async fn unknown_metadata_such_as_application_type_is_accepted_and_echoed() {
    let body = with(json!({
        "application_type": "native",
        "x_vendor_extension": {"nested": [1, 2, 3]},
        "client_name": "Python MCP SDK",
    }));
    let r = register_once(body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["application_type"], "native");
    assert_eq!(body["x_vendor_extension"], json!({"nested": [1, 2, 3]}));
    assert_eq!(body["client_name"], "Python MCP SDK");
}

#[tokio::test]
async fn null_optional_fields_count_as_absent() {
    let r = register_once(with(
        json!({"scope": null, "client_uri": null, "token_endpoint_auth_method": null}),
    ))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["token_endpoint_auth_method"], "none");
}

#[tokio::test]
async fn the_python_sdk_registration_is_accepted() {
    // The shape the Python MCP SDK sends (pydantic dump, nulls included).
    let body = json!({
        "redirect_uris": ["http://localhost:3030/callback"],
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "mcp:tools:read mcp:tools:execute offline_access",
        "client_name": "Simple Auth Client",
        "client_uri": null, "logo_uri": null, "contacts": null, "tos_uri": null, "policy_uri": null,
        "jwks_uri": null, "jwks": null, "software_id": null, "software_version": null,
        "application_type": "native",
    });
    let r = register_once(body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_post");
    assert!(body["client_secret"].as_str().is_some(), "{body}");
    assert_eq!(body["scope"], "mcp:tools:read mcp:tools:execute offline_access");
}

#[tokio::test]
async fn the_claude_ai_registration_is_accepted() {
    // Claude.ai registers with a scope of its own that no server defines.
    let body = json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "claudeai",
    });
    let r = register_once(body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.json()["redirect_uris"],
        json!(["https://claude.ai/api/mcp/auth_callback"])
    );
}

#[tokio::test]
async fn server_owned_fields_in_the_request_are_ignored() {
    let r = register_once(with(json!({
        "client_id": "chosen-by-client",
        "client_secret": "chosen-secret",
        "client_id_issued_at": 1,
        "client_secret_expires_at": 5,
        "software_statement": "eyJhbGciOiJub25lIn0.e30.",
    })))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_ne!(body["client_id"], "chosen-by-client");
    assert!(body.get("client_secret").is_none(), "{body}");
    assert!(body.get("client_secret_expires_at").is_none(), "{body}");
    assert!(body.get("software_statement").is_none(), "{body}");
    assert_ne!(body["client_id_issued_at"], 1);
}

#[tokio::test]
async fn known_scopes_are_accepted_and_echoed() {
    let r = register_once(with(json!({"scope": "mcp:tools:read profile:read"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["scope"], "mcp:tools:read profile:read");
}

#[tokio::test]
async fn loopback_and_native_app_redirect_uris_are_accepted() {
    for uri in [
        "https://app.example.com/cb?x=1",
        "http://127.0.0.1:33418/oauth/callback",
        "http://localhost/callback",
        "http://[::1]:8080/cb",
        "com.example.app:/callback",
        "cursor://anysphere.cursor-retrieval/oauth/user-server/callback",
        "vscode://vscode.github-authentication/did-authenticate",
        "claude://claude.ai/oauth/callback",
    ] {
        let r = register_once(json!({"redirect_uris": [uri]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{uri}: {}", r.text());
        assert_eq!(r.json()["redirect_uris"], json!([uri]), "registered exactly as sent");
    }
}

#[tokio::test]
async fn redirect_uris_are_stored_exactly_as_sent() {
    // `url` would normalise this to "https://app.example.com/"; matching compares strings, so the
    // record must keep what the client will send.
    let r = register_once(json!({"redirect_uris": ["https://app.example.com"]})).await;
    assert_eq!(r.json()["redirect_uris"], json!(["https://app.example.com"]));
}

#[tokio::test]
async fn web_client_links_may_be_https_or_loopback_http() {
    let r = register_once(with(json!({
        "client_uri": "https://app.example.com",
        "logo_uri": "http://localhost:3000/logo.png",
        "tos_uri": "https://app.example.com/tos",
        "policy_uri": "https://app.example.com/privacy",
        "contacts": ["ops@example.com"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.1",
    })))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["client_uri"], "https://app.example.com");
    assert_eq!(body["logo_uri"], "http://localhost:3000/logo.png");
    assert_eq!(body["contacts"], json!(["ops@example.com"]));
    assert_eq!(body["software_version"], "2.1");
}

// ---- storage ---------------------------------------------------------------------------------

async fn confidential_registration_returns_the_secret_once_and_stores_only_its_hash(store: Store) {
    let router = app(store.clone(), &[]);
    let r = register_json(
        &router,
        with(json!({"token_endpoint_auth_method": "client_secret_basic"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    let client_id = body["client_id"].as_str().expect("client_id");
    let secret = body["client_secret"].as_str().expect("client_secret");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert!(secret.len() >= 43, "a 256-bit secret, base64url: {secret}");

    let item = store
        .get(Table::Clients, &clients::key(client_id))
        .await
        .unwrap()
        .expect("stored");
    let stored = serde_json::to_string(&item.body).unwrap();
    assert!(!stored.contains(secret), "the secret's plaintext is stored: {stored}");
    let client = clients::from_item(&item).unwrap();
    assert_eq!(
        client.secret_hash.as_deref(),
        Some(sha256_b64(secret.as_bytes()).as_str())
    );
    assert!(!client.is_public());
}

async fn registered_client_reads_back_with_one_store_call(store: Store) {
    let router = app(store.clone(), &[]);
    let body = with(json!({"client_name": "Inspector", "redirect_uris": ["http://localhost:6274/oauth/callback"]}));
    let r = register_json(&router, body).await.json();
    let client_id = r["client_id"].as_str().unwrap();

    let before = store.calls();
    let client = clients::get(&store, client_id).await.unwrap().expect("registered");
    assert_eq!(store.calls() - before, 1);
    assert_eq!(client.client_id, client_id);
    assert_eq!(client.display_name(), "Inspector");
    assert_eq!(client.redirect_uris, vec!["http://localhost:6274/oauth/callback"]);
    assert!(client.is_public());
    assert_eq!(client.secret_hash, None);
    assert_eq!(client.created_at, r["client_id_issued_at"].as_i64().unwrap());
    assert_eq!(
        client.metadata["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert!(client.allows_grant_type("refresh_token"));
}

async fn registrations_beyond_the_hourly_limit_get_429_with_retry_after(store: Store) {
    let router = app(store.clone(), &[("REGISTRATIONS_PER_HOUR", "2")]);
    for n in 1..=2 {
        let r = send(&router, from([203, 0, 113, 5], post_json(PATH, &minimal()))).await;
        assert_eq!(r.status, StatusCode::CREATED, "registration {n}: {}", r.text());
    }
    let r = send(&router, from([203, 0, 113, 5], post_json(PATH, &minimal()))).await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    let now = store.clock().now();
    let window_end = (now.div_euclid(3600) + 1) * 3600;
    let retry_after: i64 = r.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert!(
        (retry_after - (window_end - now)).abs() <= 1,
        "Retry-After points at the window's end"
    );

    store.clock().advance(retry_after);
    let r = send(&router, from([203, 0, 113, 5], post_json(PATH, &minimal()))).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "a new window starts afresh: {}",
        r.text()
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _clock, _dir) = super::common::embedded();
                    super::$name(store).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _clock, _guard) = super::common::dynamo().await;
                    super::$name(store).await;
                }
            )*
        }
    };
}

/// Moves the clock to just after the start of a `window`, so a test's burst cannot straddle a
/// window boundary and find its counter reset halfway.
fn at_window_start(store: &Store, window: i64) {
    let now = store.clock().now();
    store.clock().advance(window - now.rem_euclid(window) + 1);
}

async fn the_global_ceiling_refuses_every_address_with_429_and_retry_after(store: Store) {
    at_window_start(&store, 3600);
    let router = app(store.clone(), &[("REGISTRATIONS_GLOBAL_PER_HOUR", "5")]);
    for n in 1..=5u8 {
        let r = send(&router, from([198, 51, 100, n], post_json(PATH, &minimal()))).await;
        assert_eq!(r.status, StatusCode::CREATED, "registration {n}: {}", r.text());
    }
    let r = send(&router, from([192, 0, 2, 77], post_json(PATH, &minimal()))).await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("no more registrations")
    );
    let now = store.clock().now();
    let hour_end = (now.div_euclid(3600) + 1) * 3600;
    let retry_after: i64 = r.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(
        (retry_after - (hour_end - now)).abs() <= 1,
        "Retry-After points at the hour's end"
    );
    store.clock().advance(retry_after);
    let r = send(&router, from([192, 0, 2, 77], post_json(PATH, &minimal()))).await;
    assert_eq!(r.status, StatusCode::CREATED, "a new hour starts afresh: {}", r.text());
}

on_both_backends!(
    confidential_registration_returns_the_secret_once_and_stores_only_its_hash,
    registered_client_reads_back_with_one_store_call,
    registrations_beyond_the_hourly_limit_get_429_with_retry_after,
    the_global_ceiling_refuses_every_address_with_429_and_retry_after,
);

/// What claude.ai sends, from one of its few shared egress addresses.
fn claude_ai() -> Value {
    json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "claudeai",
    })
}

#[tokio::test]
async fn fifty_registrations_from_one_shared_egress_address_within_a_minute_all_succeed_by_default() {
    let (router, store, _dir) = embedded_app();
    at_window_start(&store, 600);
    let started = store.clock().now();
    for n in 1..=50 {
        let r = send(&router, from([160, 79, 104, 10], post_json(PATH, &claude_ai()))).await;
        assert_eq!(r.status, StatusCode::CREATED, "registration {n}: {}", r.text());
    }
    assert!(store.clock().now() - started < 60, "within a minute");
}

#[tokio::test]
async fn a_flood_from_one_address_beyond_its_limit_is_refused_with_429_and_retry_after() {
    let (router, store, _dir) = embedded_app();
    at_window_start(&store, 600);
    let (mut created, mut refused) = (0, 0);
    for _ in 0..400 {
        let r = send(&router, from([203, 0, 113, 66], post_json(PATH, &minimal()))).await;
        match r.status {
            StatusCode::CREATED => created += 1,
            _ => {
                assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
                let retry_after: i64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
                assert!((1..=600).contains(&retry_after), "{retry_after}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        (created, refused),
        (300, 100),
        "300 per address per 10 minutes by default"
    );
    let other = send(&router, from([198, 51, 100, 9], post_json(PATH, &minimal()))).await;
    assert_eq!(other.status, StatusCode::CREATED, "other addresses are not locked out");
}

#[tokio::test]
async fn a_registered_client_expires_after_the_unconfirmed_client_ttl() {
    let (store, _clock, _dir) = common::embedded();
    let router = app(store.clone(), &[("UNCONFIRMED_CLIENT_TTL", "1h")]);
    let r = register_json(&router, minimal()).await;
    let id = r.json()["client_id"].as_str().unwrap().to_owned();
    let item = store.get(Table::Clients, &id).await.unwrap().expect("stored");
    assert_eq!(
        item.expires_at,
        Some(r.json()["client_id_issued_at"].as_i64().unwrap() + 3600)
    );
}

// ---- rate limit ------------------------------------------------------------------------------

#[tokio::test]
async fn registrations_from_different_addresses_are_counted_apart() {
    let (store, _clock, _dir) = common::embedded();
    let router = app(store, &[("REGISTRATIONS_PER_HOUR", "1")]);
    let first = send(&router, from([203, 0, 113, 5], post_json(PATH, &minimal()))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = send(&router, from([203, 0, 113, 5], post_json(PATH, &minimal()))).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    let other = send(&router, from([198, 51, 100, 9], post_json(PATH, &minimal()))).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text());
}

#[tokio::test]
async fn x_forwarded_for_does_not_choose_the_rate_limit_bucket() {
    let (store, _clock, _dir) = common::embedded();
    let router = app(store, &[("REGISTRATIONS_PER_HOUR", "1")]);
    let spoofed = |ip: &str| {
        let mut req = from([203, 0, 113, 5], post_json(PATH, &minimal()));
        req.headers_mut().insert("x-forwarded-for", ip.parse().unwrap());
        req
    };
    assert_eq!(send(&router, spoofed("192.0.2.1")).await.status, StatusCode::CREATED);
    assert_eq!(
        send(&router, spoofed("192.0.2.2")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn requests_without_a_known_address_share_one_bucket() {
    let (store, _clock, _dir) = common::embedded();
    let router = app(store, &[("REGISTRATIONS_PER_HOUR", "1")]);
    assert_eq!(register_json(&router, minimal()).await.status, StatusCode::CREATED);
    assert_eq!(
        register_json(&router, minimal()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn invalid_registrations_do_not_count_towards_the_rate_limit() {
    let (store, _clock, _dir) = common::embedded();
    let router = app(store, &[("REGISTRATIONS_PER_HOUR", "1")]);
    for _ in 0..3 {
        let r = register_json(&router, json!({"redirect_uris": ["http://evil.example/cb"]})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(register_json(&router, minimal()).await.status, StatusCode::CREATED);
}

// ---- invalid redirect URIs -------------------------------------------------------------------

async fn assert_invalid_redirect_uri(body: Value, named: &str) {
    let r = register_once(body.clone()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_redirect_uri");
    let description = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(
        description.contains(named),
        "{body}: description {description:?} should name {named:?}"
    );
}

#[tokio::test]
async fn http_redirect_uri_on_a_non_loopback_host_is_rejected() {
    for uri in [
        "http://app.example.com/cb",
        "http://127.0.0.2/cb",
        "http://10.0.0.1:8080/cb",
    ] {
        assert_invalid_redirect_uri(json!({"redirect_uris": [uri]}), uri).await;
    }
}

#[tokio::test]
async fn redirect_uri_with_a_fragment_is_rejected() {
    for uri in [
        "https://app.example.com/cb#frag",
        "https://app.example.com/cb#",
        "http://localhost:1/cb#x",
    ] {
        assert_invalid_redirect_uri(json!({"redirect_uris": [uri]}), uri).await;
    }
}

#[tokio::test]
async fn script_and_content_scheme_redirect_uris_are_rejected() {
    for uri in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "vbscript:msgbox(1)",
        "about:blank",
        "blob:https://app.example.com/1234",
    ] {
        assert_invalid_redirect_uri(json!({"redirect_uris": [uri]}), &uri[..5]).await;
    }
}

#[tokio::test]
async fn only_allow_listed_redirect_uri_schemes_may_be_registered() {
    // RFC 9700 §4.11.2: an allow-list, since a denylist always misses a browser- or OS-internal
    // handler. Private-use schemes must be reverse-domain (RFC 8252 §7.1) or a named app's.
    for uri in [
        "view-source:https://evil.example/",
        "jar:https://evil.example/x.jar!/",
        "chrome://settings",
        "search-ms:query=x",
        "ms-officecmd:x",
        "ms-msdt:/id",
        "myapp:/callback",
    ] {
        assert_invalid_redirect_uri(json!({"redirect_uris": [uri]}), uri.split(':').next().unwrap()).await;
    }
    for uri in [
        "com.example.app:/callback",
        "vscode-insiders://vscode.github-authentication/cb",
        "zed://oauth/cb",
    ] {
        let r = register_once(json!({"redirect_uris": [uri]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{uri}: {}", r.text());
    }
}

#[tokio::test]
async fn missing_or_malformed_redirect_uris_are_rejected() {
    for body in [
        json!({}),
        json!({"redirect_uris": null}),
        json!({"redirect_uris": []}),
        json!({"redirect_uris": "https://app.example.com/cb"}),
        json!({"redirect_uris": [42]}),
        json!({"redirect_uris": (0..11).map(|i| format!("https://app.example.com/{i}")).collect::<Vec<_>>()}),
    ] {
        assert_invalid_redirect_uri(body, "redirect_uris").await;
    }
}

#[tokio::test]
async fn relative_or_hostless_redirect_uri_is_rejected() {
    for uri in ["/callback", "callback", "https://"] {
        assert_invalid_redirect_uri(json!({"redirect_uris": [uri]}), uri).await;
    }
}

#[tokio::test]
async fn redirect_uri_with_whitespace_or_credentials_is_rejected() {
    for uri in [
        " https://app.example.com/cb",
        "https://app.example.com/c\tb",
        "https://user:pw@app.example.com/cb",
    ] {
        assert_invalid_redirect_uri(json!({"redirect_uris": [uri]}), "redirect_uri").await;
    }
}

#[tokio::test]
async fn one_bad_redirect_uri_among_good_ones_is_named() {
    let body = json!({"redirect_uris": ["https://app.example.com/cb", "http://evil.example/cb"]});
    assert_invalid_redirect_uri(body, "http://evil.example/cb").await;
}

// ---- invalid metadata ------------------------------------------------------------------------

async fn assert_invalid_metadata(body: Value) {
    let r = register_once(body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
    assert_eq!(r.json()["error"], "invalid_client_metadata", "{body}: {}", r.text());
}

#[tokio::test]
async fn unsupported_token_endpoint_auth_method_is_rejected() {
    for method in [
        json!("private_key_jwt"),
        json!("client_secret_jwt"),
        json!(""),
        json!(1),
    ] {
        assert_invalid_metadata(with(json!({"token_endpoint_auth_method": method}))).await;
    }
}

#[tokio::test]
async fn grant_types_beyond_the_supported_ones_and_public_client_credentials_are_rejected() {
    for grants in [
        // A public client (the default method) cannot act as itself.
        json!(["client_credentials"]),
        json!(["authorization_code", "implicit"]),
        json!(["authorization_code", "password"]),
        json!(["refresh_token"]),
        json!([]),
        json!("authorization_code"),
    ] {
        assert_invalid_metadata(with(json!({"grant_types": grants}))).await;
    }
}

#[tokio::test]
async fn response_types_other_than_code_are_rejected() {
    for types in [json!(["token"]), json!(["code", "id_token"]), json!([])] {
        assert_invalid_metadata(with(json!({"response_types": types}))).await;
    }
}

#[tokio::test]
async fn unknown_scopes_are_dropped_not_rejected() {
    let r = register_once(with(json!({"scope": "mcp:tools:read admin mcp:tools:read"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["scope"], "mcp:tools:read");
    for scope in ["claudeai", "openid profile", ""] {
        let r = register_once(with(json!({"scope": scope}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{scope}: {}", r.text());
        assert!(
            r.json().get("scope").is_none(),
            "{scope}: no known scope left to register"
        );
    }
}

#[tokio::test]
async fn scope_that_is_not_a_string_is_rejected() {
    for scope in [json!(["mcp:tools:read"]), json!(1), json!({"a": 1})] {
        assert_invalid_metadata(with(json!({"scope": scope}))).await;
    }
}

#[tokio::test]
async fn client_uri_and_logo_uri_must_be_https_or_loopback_http() {
    for (field, uri) in [
        ("client_uri", "http://app.example.com"),
        ("client_uri", "javascript:alert(1)"),
        ("logo_uri", "data:image/png;base64,AAAA"),
        ("logo_uri", "com.example.app:/logo"),
        ("client_uri", "not a url"),
    ] {
        assert_invalid_metadata(with(json!({field: uri}))).await;
    }
}

#[tokio::test]
async fn client_name_must_be_a_short_string() {
    for name in [json!("x".repeat(201)), json!(""), json!(7), json!("bad\u{0007}name")] {
        assert_invalid_metadata(with(json!({"client_name": name}))).await;
    }
    let r = register_once(with(json!({"client_name": "é".repeat(200)}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "200 characters fit: {}", r.text());
}

/// `depth` arrays, each holding the next, around a 1.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!([inner]))
}

#[tokio::test]
async fn unknown_metadata_nested_too_deeply_is_invalid_client_metadata() {
    // 125 levels parse as JSON, but a record holding them could never be read back.
    assert_invalid_metadata(with(json!({"x_deep": nested(125)}))).await;
    assert_invalid_metadata(with(json!({"x_deep": nested(metadata::MAX_UNKNOWN_DEPTH + 1)}))).await;
    assert_invalid_metadata(with(
        json!({"x_deep": {"a": {"b": nested(metadata::MAX_UNKNOWN_DEPTH - 1)}}}),
    ))
    .await;
}

#[tokio::test]
async fn unknown_metadata_at_the_depth_limit_registers_and_reads_back_through_authorize() {
    let (store, _clock, _dir) = common::embedded();
    let h = common::oauth::Harness::new(store);
    let reply = h
        .register(json!({
            "client_name": "Deep Client",
            "redirect_uris": ["http://127.0.0.1:8765/callback"],
            "x_deep": nested(metadata::MAX_UNKNOWN_DEPTH),
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["x_deep"], nested(metadata::MAX_UNKNOWN_DEPTH));
    let client = common::oauth::TestClient {
        id: reply.json()["client_id"].as_str().unwrap().to_owned(),
        secret: None,
        redirect_uri: "http://127.0.0.1:8765/callback".into(),
        verifier: mcp_oauth::crypto::random_token(),
    };
    let login = h
        .browser()
        .get(&common::oauth::Harness::authorize_url(&client, &[]))
        .await;
    assert_eq!(
        login.status,
        StatusCode::OK,
        "the stored client reads back: {}",
        login.text()
    );
}

#[tokio::test]
async fn client_supplied_text_must_not_hold_bidi_or_invisible_characters() {
    for spoof in [
        "\u{202e}edualC\u{202c}",
        "Clau\u{200b}de",
        "Claude\u{2066}x\u{2069}",
        "\u{061c}Claude",
        "Cl\u{00ad}aude",
        "\u{feff}Claude",
        "Claude\u{200e}",
        "Claude\u{2060}",
        "Claude\u{e0041}",
        "Claude\u{fe0f}",
    ] {
        assert_invalid_metadata(with(json!({"client_name": spoof}))).await;
        assert_invalid_metadata(with(json!({"software_id": spoof}))).await;
        assert_invalid_metadata(with(json!({"contacts": [spoof]}))).await;
    }
    let r = register_once(with(json!({"client_name": "Résumé אפליקציה 日本語"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "ordinary scripts fit: {}", r.text());
}

#[tokio::test]
async fn too_many_metadata_fields_are_rejected() {
    let mut body = minimal();
    for i in 0..60 {
        body[format!("x_{i}")] = json!(i);
    }
    assert_invalid_metadata(body).await;
}

// ---- malformed requests ----------------------------------------------------------------------

#[tokio::test]
async fn non_json_content_type_is_rejected() {
    let (router, _store, _dir) = embedded_app();
    let form = common::post_form(PATH, &[("redirect_uris", "https://app.example.com/cb")]);
    assert_error(
        &send(&router, form).await,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
    );
    let untyped = Request::post(PATH).body(Body::from(minimal().to_string())).unwrap();
    assert_error(
        &send(&router, untyped).await,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
    );
}

#[tokio::test]
async fn json_content_type_with_charset_is_accepted() {
    let (router, _store, _dir) = embedded_app();
    let req = Request::post(PATH)
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(Body::from(minimal().to_string()))
        .unwrap();
    assert_eq!(send(&router, req).await.status, StatusCode::CREATED);
}

fn raw_json(body: impl Into<Body>) -> Request<Body> {
    Request::post(PATH)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn malformed_json_is_rejected() {
    let (router, _store, _dir) = embedded_app();
    for body in ["{\"redirect_uris\": [", "", "not json", "{\"a\":1}}"] {
        let r = send(&router, raw_json(body)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata");
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_is_rejected() {
    let (router, _store, _dir) = embedded_app();
    for body in ["[]", "\"https://app.example.com/cb\"", "null", "42"] {
        let r = send(&router, raw_json(body)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata");
    }
}

#[tokio::test]
async fn oversize_body_is_rejected_with_413_json() {
    let (router, _store, _dir) = embedded_app();
    let padding = "x".repeat(register::MAX_BODY);
    let body = json!({"redirect_uris": ["https://app.example.com/cb"], "x_pad": padding}).to_string();
    let r = send(&router, raw_json(body)).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request");
}

#[tokio::test]
async fn body_just_under_the_limit_is_accepted() {
    let (router, _store, _dir) = embedded_app();
    let mut body = minimal();
    let base = body.to_string().len() + r#","x_pad":"""#.len();
    body["x_pad"] = json!("x".repeat(register::MAX_BODY - base));
    let text = body.to_string();
    assert_eq!(text.len(), register::MAX_BODY);
    assert_eq!(send(&router, raw_json(text)).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn wrong_method_gets_405_with_allow() {
    let (router, _store, _dir) = embedded_app();
    for method in ["GET", "PUT", "DELETE"] {
        let req = Request::builder().method(method).uri(PATH).body(Body::empty()).unwrap();
        let r = send(&router, req).await;
        assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(
            r.header("allow").is_some_and(|a| a.contains("POST")),
            "{method}: {:?}",
            r.headers
        );
    }
}

// ---- CORS, discovery, Lambda --------------------------------------------------------

#[tokio::test]
async fn browser_clients_from_any_origin_may_register() {
    let (router, _store, _dir) = embedded_app();
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri(PATH)
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    let r = send(&router, preflight).await;
    assert!(r.status.is_success(), "{:?} {}", r.status, r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(
        r.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST"))
    );
    assert!(
        r.header("access-control-allow-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("content-type"))
    );

    let mut post = post_json(PATH, &minimal());
    post.headers_mut()
        .insert("origin", "https://inspector.example".parse().unwrap());
    let r = send(&router, post).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn authorization_server_metadata_advertises_the_registration_endpoint() {
    let (store, _clock, _dir) = common::embedded();
    let state = common::new_state(config_with(&[("PUBLIC_URL", "https://mcp.example.com")]), store);
    let router = function(mcp_oauth::endpoints::discovery::routes, state);
    let doc = send(&router, common::get("/.well-known/oauth-authorization-server"))
        .await
        .json();
    assert_eq!(
        doc["registration_endpoint"],
        "https://mcp.example.com/api/oauth/register"
    );
}

fn lambda_event() -> Request<Body> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/register.json"))
        .expect("events/register.json");
    lambda_http::request::from_str(&text)
        .expect("an API Gateway event")
        .map(Body::new)
}

#[tokio::test]
async fn lambda_event_registers_a_client() {
    let (store, _clock, _dir) = common::embedded();
    let router = app(store.clone(), &[]);
    let r = send(&router, lambda_event()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["redirect_uris"], json!(["http://127.0.0.1:33418/oauth/callback"]));
    assert_eq!(body["client_name"], "MCP CLI Proxy");
    let client = clients::get(&store, body["client_id"].as_str().unwrap()).await.unwrap();
    assert!(client.is_some_and(|c| c.is_public()));
}

#[tokio::test]
async fn lambda_rate_limit_counts_by_the_api_gateway_source_ip() {
    let (store, _clock, _dir) = common::embedded();
    let router = app(store, &[("REGISTRATIONS_PER_HOUR", "1")]);
    assert_eq!(send(&router, lambda_event()).await.status, StatusCode::CREATED);
    assert_eq!(
        send(&router, lambda_event()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A request without API Gateway's context falls in another bucket, so the event's sourceIp
    // (not some shared default) is what was counted.
    assert_eq!(register_json(&router, minimal()).await.status, StatusCode::CREATED);
}
