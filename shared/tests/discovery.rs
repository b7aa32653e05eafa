//! The discovery function as a client sees it: protected resource metadata (RFC 9728), authorization
//! server metadata (RFC 8414, also at `openid-configuration`), the JWKS, and how the function answers
//! unknown paths, wrong methods and an unreachable store.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use common::{Reply, config_with, get, send};
use http::{Request, StatusCode};
use mcp_oauth::app::function;
use mcp_oauth::clock::Clock;
use mcp_oauth::endpoints::discovery;
use mcp_oauth::scopes;
use mcp_oauth::store::Store;
use mcp_oauth::store::dynamo::DynamoStore;
use serde_json::{Value, json};

const PRM: &str = "/.well-known/oauth-protected-resource";
const PRM_MCP: &str = "/.well-known/oauth-protected-resource/mcp";
const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
const OPENID: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";
const ALL: [&str; 5] = [PRM, PRM_MCP, AS_METADATA, OPENID, JWKS];

/// The discovery function as its Lambda serves it (with fallbacks), on a fresh embedded store.
fn discovery_with(vars: &[(&str, &str)]) -> (Router, tempfile::TempDir) {
    let (store, _clock, dir) = common::embedded();
    let state = common::new_state(config_with(vars), store);
    (function(discovery::routes, state), dir)
}

async fn fetch(vars: &[(&str, &str)], path: &str) -> Reply {
    let (app, _dir) = discovery_with(vars);
    send(&app, get(path)).await
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string"))
        .collect()
}

#[tokio::test]
async fn protected_resource_metadata_names_the_mcp_url_and_its_issuer() {
    for path in [PRM, PRM_MCP] {
        let r = fetch(&[("PUBLIC_URL", "https://mcp.example.com/")], path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        let doc = r.json();
        assert_eq!(doc["resource"], "https://mcp.example.com/mcp", "{path}");
        assert_eq!(
            doc["authorization_servers"],
            json!(["https://mcp.example.com"]),
            "{path}"
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]), "{path}");
        assert_eq!(doc["resource_name"], "MCP server", "{path}");
    }
}

#[tokio::test]
async fn protected_resource_metadata_lists_the_resource_scopes_without_offline_access() {
    let doc = fetch(&[], PRM_MCP).await.json();
    let listed = strings(&doc["scopes_supported"]);
    assert_eq!(listed, catalog::catalog().scopes().resource_scopes());
    for scope in [
        scopes::TOOLS_READ,
        scopes::TOOLS_EXECUTE,
        catalog::whoami::PROFILE_READ.name,
    ] {
        assert!(listed.contains(&scope), "{scope} missing from {listed:?}");
    }
    assert!(
        !listed.contains(&scopes::OFFLINE_ACCESS),
        "PRM must never list offline_access"
    );
}

#[tokio::test]
async fn resource_name_comes_from_configuration() {
    let doc = fetch(&[("RESOURCE_NAME", "Acme notes")], PRM).await.json();
    assert_eq!(doc["resource_name"], "Acme notes");
}

#[tokio::test]
async fn both_protected_resource_paths_serve_the_same_document() {
    let (app, _dir) = discovery_with(&[]);
    let root = send(&app, get(PRM)).await.json();
    let specific = send(&app, get(PRM_MCP)).await.json();
    assert_eq!(root, specific);
}

#[tokio::test]
async fn authorization_server_issuer_is_exactly_the_configured_url() {
    for (public_url, issuer) in [
        ("https://mcp.example.com/", "https://mcp.example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ] {
        let doc = fetch(&[("PUBLIC_URL", public_url)], AS_METADATA).await.json();
        assert_eq!(doc["issuer"], issuer, "PUBLIC_URL={public_url}");
        let prm = fetch(&[("PUBLIC_URL", public_url)], PRM).await.json();
        assert_eq!(
            prm["authorization_servers"],
            json!([issuer]),
            "PRM must name the same issuer"
        );
    }
}

#[tokio::test]
async fn authorization_server_metadata_requires_s256_code_flow_and_sends_iss() {
    let doc = fetch(&[], AS_METADATA).await.json();
    assert_eq!(doc["issuer"], "http://localhost:3000");
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], json!(true));
    let grants = strings(&doc["grant_types_supported"]);
    assert!(
        grants.contains(&"authorization_code") && grants.contains(&"refresh_token"),
        "{grants:?}"
    );
    assert!(
        !grants.contains(&"implicit") && !grants.contains(&"password"),
        "{grants:?}"
    );
}

#[tokio::test]
async fn authorization_server_endpoints_live_under_the_issuer() {
    let doc = fetch(&[("PUBLIC_URL", "https://mcp.example.com")], AS_METADATA)
        .await
        .json();
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/api/oauth/token"),
        ("jwks_uri", JWKS),
    ] {
        assert_eq!(doc[field], format!("https://mcp.example.com{path}"), "{field}");
    }
}

#[tokio::test]
async fn authorization_server_metadata_lists_offline_access() {
    let doc = fetch(&[], AS_METADATA).await.json();
    let listed = strings(&doc["scopes_supported"]);
    assert!(listed.contains(&scopes::OFFLINE_ACCESS), "{listed:?}");
    for scope in catalog::catalog().scopes().resource_scopes() {
        assert!(listed.contains(&scope), "{scope} missing from {listed:?}");
    }
}

#[tokio::test]
async fn openid_configuration_serves_the_authorization_server_metadata() {
    let (app, _dir) = discovery_with(&[]);
    let oauth = send(&app, get(AS_METADATA)).await;
    let openid = send(&app, get(OPENID)).await;
    assert_eq!(openid.status, StatusCode::OK);
    assert_eq!(openid.json(), oauth.json());
}

#[tokio::test]
async fn every_document_is_cacheable_json() {
    let (app, _dir) = discovery_with(&[]);
    for path in ALL {
        let r = send(&app, get(path)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        let cache = r
            .header("cache-control")
            .unwrap_or_else(|| panic!("{path}: no Cache-Control"));
        assert!(
            cache.contains("public") && cache.contains("max-age="),
            "{path}: Cache-Control {cache}"
        );
        r.json();
    }
}

#[tokio::test]
async fn every_document_allows_any_origin() {
    let (app, _dir) = discovery_with(&[]);
    for path in ALL {
        let req = Request::get(path)
            .header("origin", "https://inspector.example")
            .body(Body::empty())
            .unwrap();
        let r = send(&app, req).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
    }
}

#[tokio::test]
async fn cors_preflight_for_get_is_allowed_from_any_origin() {
    let (app, _dir) = discovery_with(&[]);
    let req = Request::options(AS_METADATA)
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "GET")
        .body(Body::empty())
        .unwrap();
    let r = send(&app, req).await;
    assert!(r.status.is_success(), "preflight answered {}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let methods = r.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("GET"), "allow-methods {methods:?}");
}

#[tokio::test]
async fn jwks_publishes_one_es256_public_key_and_no_private_part() {
    let (store, _clock, _dir) = common::embedded();
    let state = common::new_state(config_with(&[]), store);
    // Keys are created by the token function's signer, never by publishing.
    state.keys.signer().await.expect("signer");
    let doc = send(&function(discovery::routes, state), get(JWKS)).await.json();
    let keys = doc["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1, "{doc}");
    let k = &keys[0];
    assert_eq!(
        (&k["kty"], &k["crv"], &k["alg"], &k["use"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"), &json!("sig"))
    );
    for field in ["kid", "x", "y"] {
        assert!(k[field].as_str().is_some_and(|s| !s.is_empty()), "{field} missing: {k}");
    }
    assert!(k.get("d").is_none(), "the private scalar must never be published: {k}");
}

#[tokio::test]
async fn jwks_before_the_first_key_is_an_empty_set_and_creates_none() {
    let (store, _clock, _dir) = common::embedded();
    let app = function(discovery::routes, common::new_state(config_with(&[]), store.clone()));
    let r = send(&app, get(JWKS)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"keys": []}));
    let stored = store
        .query_by_owner(mcp_oauth::store::Table::Keys, "signing")
        .await
        .expect("query");
    assert!(stored.is_empty(), "publishing created a key");
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let r = fetch(&[], "/.well-known/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["error"], "not_found");
}

#[tokio::test]
async fn wrong_method_is_a_json_405_naming_the_allowed_method() {
    let (app, _dir) = discovery_with(&[]);
    for path in ALL {
        let req = Request::post(path).body(Body::empty()).unwrap();
        let r = send(&app, req).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let allow = r.header("allow").unwrap_or_else(|| panic!("{path}: 405 without Allow"));
        assert!(allow.contains("GET"), "{path}: Allow {allow}");
        assert_eq!(r.json()["error"], "method_not_allowed", "{path}");
    }
}

/// Without `PUBLIC_URL` and outside API Gateway there is no trusted source for the issuer; a
/// client-supplied `Host` must not become one.
#[tokio::test]
async fn host_header_never_sets_the_issuer() {
    let (store, _clock, _dir) = common::embedded();
    let mut config = config_with(&[]);
    config.public_url = None;
    let app = function(discovery::routes, common::new_state(config, store));
    for path in [PRM, AS_METADATA] {
        let req = Request::get(path)
            .header("host", "evil.example")
            .body(Body::empty())
            .unwrap();
        let r = send(&app, req).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {}", r.text());
        assert!(!r.text().contains("evil.example"), "{path}: {}", r.text());
        assert_eq!(r.json()["error"], "temporarily_unavailable");
    }
}

/// A DynamoDB endpoint on which nothing listens: a port that was just free.
fn closed_port_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn unreachable_store_answers_503_json_not_a_panic() {
    let store = Store::new(DynamoStore::connect(Some(&closed_port_endpoint()), "t-", Clock::system()).await);
    let app = function(discovery::routes, common::new_state(config_with(&[]), store));
    let started = Instant::now();
    let r = send(&app, get(JWKS)).await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    assert!(r.header("retry-after").is_some(), "503 should say when to retry");
    // Documents that need no store still answer.
    assert_eq!(send(&app, get(AS_METADATA)).await.status, StatusCode::OK);
    eprintln!("unreachable store answered 503 after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "an unreachable store took {took:?} to report"
    );
}
