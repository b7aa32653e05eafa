//! Shared by the dev server's tests: the HttpApi routes that `template.yaml` declares, an app state
//! on a temporary embedded store, and requests sent through a router in process.
//!
//! Not for: judging a response; each test says what it expects.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use mcp_oauth::app::AppState;
use mcp_oauth::clock::Clock;
use mcp_oauth::config::Config;
use mcp_oauth::store::Store;
use mcp_oauth::store::embedded::EmbeddedStore;
use serde_norway::Value;
use tables::TEMPLATE;
use tower::ServiceExt;

/// One HttpApi event of `template.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The function's logical id, e.g. `DiscoveryFunction`.
    pub function: String,
    /// Upper case, e.g. `GET`.
    pub method: String,
    /// As API Gateway writes it, with `{param}` segments.
    pub path: String,
}

impl Route {
    /// API Gateway's route key, e.g. `GET /oauth/callback/{provider}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A scalar, looking through a CloudFormation tag such as `!Ref`.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

/// Every HttpApi event of every function in `template.yaml`.
pub fn template_routes() -> Vec<Route> {
    let doc: Value = serde_norway::from_str(TEMPLATE).expect("template.yaml is YAML");
    let mut routes = Vec::new();
    for (id, res) in doc["Resources"].as_mapping().expect("Resources") {
        if res.get("Type").and_then(scalar).as_deref() != Some("AWS::Serverless::Function") {
            continue;
        }
        let function = scalar(id).expect("logical id");
        let events = res
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping);
        for (name, event) in events.into_iter().flatten() {
            if event.get("Type").and_then(scalar).as_deref() != Some("HttpApi") {
                continue;
            }
            let props = &event["Properties"];
            let field = |f: &str| {
                props
                    .get(f)
                    .and_then(scalar)
                    .unwrap_or_else(|| panic!("{function}.{name:?}: no {f}"))
            };
            routes.push(Route {
                function: function.clone(),
                method: field("Method").to_ascii_uppercase(),
                path: field("Path"),
            });
        }
    }
    routes.sort();
    routes
}

/// A concrete path for a template path: each `{param}` becomes `sample`, a greedy `{param+}`
/// becomes `sample/path`.
pub fn sample_path(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            s if s.starts_with('{') && s.ends_with("+}") => "sample/path",
            s if s.starts_with('{') && s.ends_with('}') => "sample",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a concrete request path matches a template path, as API Gateway matches it.
pub fn path_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    for (i, seg) in t.iter().enumerate() {
        if seg.starts_with('{') && seg.ends_with("+}") {
            return p.len() > i && p[i..].iter().all(|s| !s.is_empty());
        }
        match p.get(i) {
            Some(s) if seg.starts_with('{') && seg.ends_with('}') => {
                if s.is_empty() {
                    return false;
                }
            }
            Some(s) if s == seg => {}
            _ => return false,
        }
    }
    t.len() == p.len()
}

/// The default configuration (issuer `http://localhost:3000`).
pub fn config() -> Config {
    Config::from_lookup(|_| None).expect("default config")
}

/// App state on a fresh embedded store (deleted when the guard drops).
pub fn state(config: Config) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::new(EmbeddedStore::open(&dir.path().join("store.redb"), Clock::system()).expect("open redb"));
    let fixtures = config.conformance_fixtures;
    (
        AppState::new(config, store).with_catalog(devserver::catalog(fixtures)),
        dir,
    )
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request through a router in process.
pub async fn send(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.expect("router is infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, headers, body }
}

/// An empty request.
pub fn request(method: &str, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .expect("request")
}

/// Whether `reply` is what a host's fallbacks answer when no route matches: the 404 for an
/// unknown path or the 405 for a known path and another method. Anything else means a route of
/// the router answered. The fallback answers are taken from the host's own plumbing
/// (`mcp_oauth::http::with_fallbacks`) on a one-route router.
pub async fn is_fallback(reply: &Reply) -> bool {
    let reference = mcp_oauth::http::with_fallbacks(Router::new().route("/probe", get(|| async {})));
    for (method, path) in [("GET", "/no-such-path"), ("POST", "/probe")] {
        let fallback = send(&reference, request(method, path)).await;
        if reply.status == fallback.status && reply.body == fallback.body {
            return true;
        }
    }
    false
}
