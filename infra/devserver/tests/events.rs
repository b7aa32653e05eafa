//! The sample events in `events/`: each is an API Gateway HTTP API (payload 2.0) event for a route
//! of `template.yaml`, and the function the template routes it to answers it the way its Lambda
//! would: the event goes through `lambda_http`'s own decoding into that function's router, with no
//! `PUBLIC_URL`, so URLs come from the event's `requestContext.domainName` as they do behind API
//! Gateway.
//!
//! Routes map to functions through the template, and functions to routers through
//! `devserver::functions()`: a new function needs no change here, only its events.

mod common;

use std::path::{Path, PathBuf};

use axum::Router;
use common::{Reply, Route, is_fallback, path_matches, send, template_routes};
use lambda_http::request::RequestContext;
use mcp_oauth::app::{AppState, function};
use serde_json::Value;

struct Sample {
    file: String,
    json: Value,
    route: Route,
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// Every `events/*.json`, with the template route it belongs to.
fn samples() -> Vec<Sample> {
    let routes = template_routes();
    let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let file = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("utf-8 name")
                .to_owned();
            let text = std::fs::read_to_string(&path).expect("readable");
            let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{file} is not JSON: {e}"));
            let method = json["requestContext"]["http"]["method"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let path = json["rawPath"].as_str().unwrap_or_default().to_owned();
            let route = routes
                .iter()
                .find(|r| (r.method == method || r.method == "ANY") && path_matches(&r.path, &path))
                .unwrap_or_else(|| panic!("events/{file}: {method} {path} is no HttpApi route of template.yaml"))
                .clone();
            Sample { file, json, route }
        })
        .collect()
}

/// The router of a template function, as `devserver::functions()` lists it.
fn routes_for(logical_id: &str) -> fn(AppState) -> Router {
    devserver::functions()
        .into_iter()
        .find(|(id, _)| *id == logical_id)
        .map(|(_, routes)| routes)
        .unwrap_or_else(|| panic!("{logical_id} is in template.yaml but not in devserver::functions()"))
}

/// Sends a sample through its function's router the way its Lambda would receive it.
async fn invoke(sample: &Sample) -> Reply {
    let text = sample.json.to_string();
    let req = lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("events/{}: lambda_http cannot decode it: {e}", sample.file));
    assert!(
        matches!(
            req.extensions().get::<RequestContext>(),
            Some(RequestContext::ApiGatewayV2(_))
        ),
        "events/{}: not an HTTP API payload 2.0 event",
        sample.file
    );
    // Behind API Gateway without PUBLIC_URL: the issuer comes from the request context.
    let mut config = common::config();
    config.public_url = None;
    let (state, _dir) = common::state(config);
    let lambda = function(routes_for(&sample.route.function), state);
    send(&lambda, req.map(axum::body::Body::new)).await
}

fn https_domain(sample: &Sample) -> String {
    let domain = sample.json["requestContext"]["domainName"].as_str().unwrap_or_default();
    assert!(
        domain.ends_with(".amazonaws.com"),
        "events/{}: domainName {domain:?}",
        sample.file
    );
    format!("https://{domain}")
}

#[test]
fn every_event_is_a_well_formed_http_api_v2_event_for_its_route() {
    let samples = samples();
    assert!(!samples.is_empty(), "events/ holds no sample");
    for s in &samples {
        let (f, ctx) = (&s.file, &s.json["requestContext"]);
        assert_eq!(s.json["version"], "2.0", "events/{f}: version");
        assert_eq!(
            s.json["routeKey"],
            s.route.key(),
            "events/{f}: routeKey must be the template's route"
        );
        assert_eq!(ctx["routeKey"], s.route.key(), "events/{f}: requestContext.routeKey");
        assert_eq!(
            ctx["http"]["path"], s.json["rawPath"],
            "events/{f}: http.path and rawPath differ"
        );
        assert_eq!(ctx["stage"], "$default", "events/{f}: stage");
        assert!(
            ctx["http"]["sourceIp"]
                .as_str()
                .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
            "events/{f}: sourceIp"
        );
        assert!(s.json["isBase64Encoded"].is_boolean(), "events/{f}: isBase64Encoded");
        assert!(s.json["headers"].is_object(), "events/{f}: headers");
        https_domain(s);
    }
}

#[tokio::test]
async fn every_event_is_answered_by_its_function_without_a_server_error() {
    for s in samples() {
        let reply = invoke(&s).await;
        assert!(
            !is_fallback(&reply).await,
            "events/{}: {} has no route for {}",
            s.file,
            s.route.function,
            s.route.key()
        );
        assert!(
            !reply.status.is_server_error(),
            "events/{}: {} answered {}: {}",
            s.file,
            s.route.function,
            reply.status,
            reply.text()
        );
    }
}

/// `events/` holds one or more sample events per function (docs/ARCHITECTURE.md).
#[test]
fn every_function_has_a_sample_event() {
    let samples = samples();
    let missing: std::collections::BTreeSet<String> = template_routes()
        .into_iter()
        .map(|r| r.function)
        .filter(|f| !samples.iter().any(|s| s.route.function == *f))
        .collect();
    assert!(missing.is_empty(), "no sample event in events/ for {missing:?}");
}

#[test]
fn every_discovery_route_has_a_sample_event() {
    let samples = samples();
    for route in template_routes()
        .into_iter()
        .filter(|r| r.function == "DiscoveryFunction")
    {
        assert!(
            samples.iter().any(|s| s.route == route),
            "{} has no sample event in events/",
            route.key()
        );
    }
}

#[tokio::test]
async fn discovery_events_take_their_urls_from_the_api_gateway_domain() {
    let samples: Vec<Sample> = samples()
        .into_iter()
        .filter(|s| s.route.function == "DiscoveryFunction" && s.route.method == "GET")
        .collect();
    assert_eq!(samples.len(), 5, "one sample per discovery document");
    for s in &samples {
        let reply = invoke(s).await;
        let base = https_domain(s);
        assert_eq!(
            reply.status,
            http::StatusCode::OK,
            "events/{}: {}",
            s.file,
            reply.text()
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "events/{}",
            s.file
        );
        let doc = reply.json();
        if s.route.path.starts_with("/.well-known/oauth-protected-resource") {
            assert_eq!(doc["resource"], format!("{base}/mcp"), "events/{}", s.file);
            assert_eq!(
                doc["authorization_servers"],
                serde_json::json!([base]),
                "events/{}",
                s.file
            );
        } else if s.route.path.ends_with("jwks.json") {
            // An array, empty until the token function's signer creates the first key.
            assert!(doc["keys"].as_array().is_some(), "events/{}: {doc}", s.file);
        } else {
            assert_eq!(doc["issuer"], base, "events/{}", s.file);
            assert_eq!(
                doc["token_endpoint"],
                format!("{base}/api/oauth/token"),
                "events/{}",
                s.file
            );
        }
    }
}

/// The authorization server's sample events name a client that is not registered, as a first
/// request to a fresh deployment would: each function must answer with its specification's
/// error, in its own format.
#[tokio::test]
async fn authorization_server_events_get_their_specified_errors() {
    let expected: &[(&str, u16, &str)] = &[
        ("authorize-get-unknown-client.json", 400, "text/html"),
        ("authorize-post-login.json", 400, "text/html"),
        ("logout.json", 303, ""),
        ("upstream-callback.json", 400, "text/html"),
        ("token-authorization-code.json", 401, "application/json"),
        ("token-refresh.json", 401, "application/json"),
        ("revoke.json", 401, "application/json"),
        // An unlisted caller may not introspect, whatever it sends.
        ("introspect.json", 401, "application/json"),
    ];
    let samples = samples();
    for (file, status, content_type) in expected {
        let s = samples
            .iter()
            .find(|s| s.file == *file)
            .unwrap_or_else(|| panic!("events/{file} is missing"));
        let reply = invoke(s).await;
        assert_eq!(reply.status.as_u16(), *status, "events/{file}: {}", reply.text());
        let ct = reply.header("content-type").unwrap_or_default();
        assert!(ct.starts_with(content_type), "events/{file}: content-type {ct:?}");
        if content_type == &"text/html" {
            let csp = reply.header("content-security-policy").unwrap_or_default();
            assert!(csp.contains("frame-ancestors 'none'"), "events/{file}: CSP {csp:?}");
            assert!(
                reply.header("location").is_none(),
                "events/{file}: must not redirect an unknown client"
            );
        }
        if content_type == &"application/json" {
            assert_eq!(reply.json()["error"], "invalid_client", "events/{file}");
        }
    }
}

/// The MCP endpoint's sample events carry no token, as mcp-remote's first probe (a GET) and a
/// client's first initialize do: both must get the 401 whose challenge points at the protected
/// resource metadata of the URL the client used.
#[tokio::test]
async fn mcp_events_get_the_bearer_challenge() {
    let samples = samples();
    for file in ["mcp-get.json", "mcp-post-initialize.json"] {
        let s = samples
            .iter()
            .find(|s| s.file == file)
            .unwrap_or_else(|| panic!("events/{file} is missing"));
        assert_eq!(s.route.function, "McpFunction", "events/{file}");
        let reply = invoke(s).await;
        assert_eq!(reply.status.as_u16(), 401, "events/{file}: {}", reply.text());
        let www = reply.header("www-authenticate").unwrap_or_default();
        let prm = format!("{}/.well-known/oauth-protected-resource/mcp", https_domain(s));
        assert!(www.starts_with("Bearer "), "events/{file}: {www:?}");
        assert!(
            www.contains(&format!(r#"resource_metadata="{prm}""#)),
            "events/{file}: {www:?}"
        );
        assert!(www.contains("scope=\""), "events/{file}: {www:?}");
        assert!(reply.header("mcp-session-id").is_none(), "events/{file}");
    }
}

/// Browser-based clients (MCP Inspector) preflight their cross-origin calls; API Gateway routes
/// the `OPTIONS` to the function, whose CORS layer must answer it.
#[tokio::test]
async fn preflight_events_are_answered_with_cors_headers() {
    let preflights: Vec<Sample> = samples().into_iter().filter(|s| s.route.method == "OPTIONS").collect();
    assert!(preflights.len() >= 7, "a preflight sample per CORS route");
    for s in &preflights {
        let reply = invoke(s).await;
        assert!(reply.status.is_success(), "events/{}: {}", s.file, reply.status);
        assert!(
            reply.header("access-control-allow-origin").is_some(),
            "events/{}: {:?}",
            s.file,
            reply.headers
        );
        assert!(
            reply.header("access-control-allow-methods").is_some(),
            "events/{}: {:?}",
            s.file,
            reply.headers
        );
    }
}
