//! Route parity: the HttpApi of `template.yaml` and the dev server route the same requests to the
//! same functions (docs/ARCHITECTURE.md, decision 1: the table in template.yaml and the dev
//! server's routes must never disagree).
//!
//! axum routers cannot list their routes, so the dev server's side is observed by sending
//! requests in process and telling a route's answer from the host's fallbacks (the 404 for an
//! unknown path, the 405 for a known path and another method). What these tests prove:
//!
//! 1. `devserver::functions()` and the template name the same functions (logical ids).
//! 2. For every template route and every function F, F's router alone, hosted as its Lambda hosts
//!    it (`mcp_oauth::app::function`), answers the route if and only if the template gives the
//!    route to F. So each Lambda serves all of its template routes, and no function serves a route
//!    that API Gateway sends to another.
//! 3. The merged dev server answers every template route.
//! 4. At every endpoint path the code knows (`mcp_oauth::urls`), every method the dev server
//!    answers is a template route, so no known endpoint works locally and then 404s behind API
//!    Gateway (for example `GET /mcp`, which mcp-remote probes first). A dev-server-only route at a
//!    path no constant names is not caught. `HEAD` (answered for every `GET` by axum) and
//!    `OPTIONS` (CORS preflight, answered by CORS layers) are left out.

mod common;

use std::collections::BTreeSet;

use common::{Route, is_fallback, path_matches, request, sample_path, send, state, template_routes};
use mcp_oauth::app::function;
use mcp_oauth::urls;

#[test]
fn dev_server_and_template_host_the_same_functions() {
    let dev: BTreeSet<String> = devserver::functions().iter().map(|(id, _)| id.to_string()).collect();
    let template: BTreeSet<String> = template_routes().into_iter().map(|r| r.function).collect();
    assert_eq!(
        dev, template,
        "devserver::functions() and template.yaml's functions with HttpApi events must be the same set"
    );
    assert_eq!(
        dev.len(),
        devserver::functions().len(),
        "a function is listed twice in devserver::functions()"
    );
}

#[tokio::test]
async fn each_function_answers_exactly_its_own_template_routes() {
    let routes = template_routes();
    assert!(!routes.is_empty(), "template.yaml declares no HttpApi route");
    let mut wrong = Vec::new();
    for (id, routes_fn) in devserver::functions() {
        let (state, _dir) = state(common::config());
        let lambda = function(routes_fn, state);
        for route in &routes {
            let reply = send(&lambda, request(&route.method, &sample_path(&route.path))).await;
            let answered = !is_fallback(&reply).await;
            let expected = route.function == id;
            if answered != expected {
                wrong.push(format!(
                    "{id} {} {} (template: {}; answered {})",
                    if answered { "answers" } else { "does not answer" },
                    route.key(),
                    route.function,
                    reply.status
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "routes disagree with template.yaml:\n  {}",
        wrong.join("\n  ")
    );
}

#[tokio::test]
async fn dev_server_answers_every_template_route() {
    let (state, _dir) = state(common::config());
    let app = devserver::app(state);
    for route in template_routes() {
        let reply = send(&app, request(&route.method, &sample_path(&route.path))).await;
        assert!(
            !is_fallback(&reply).await,
            "the dev server does not serve {} ({})",
            route.key(),
            route.function
        );
    }
}

#[tokio::test]
async fn dev_server_serves_no_known_endpoint_the_template_does_not_route() {
    let paths = [
        urls::MCP_PATH.to_owned(),
        urls::PRM_PATH.to_owned(),
        format!("{}{}", urls::PRM_PATH, urls::MCP_PATH),
        urls::AS_METADATA_PATH.to_owned(),
        urls::OPENID_CONFIGURATION_PATH.to_owned(),
        urls::JWKS_PATH.to_owned(),
        urls::AUTHORIZE_PATH.to_owned(),
        urls::TOKEN_PATH.to_owned(),
        urls::REGISTER_PATH.to_owned(),
        urls::REVOKE_PATH.to_owned(),
        urls::INTROSPECT_PATH.to_owned(),
    ];
    let routes = template_routes();
    let routed = |method: &str, path: &str| {
        routes
            .iter()
            .any(|r: &Route| (r.method == method || r.method == "ANY") && path_matches(&r.path, path))
    };
    let (state, _dir) = state(common::config());
    let app = devserver::app(state);
    let mut extra = Vec::new();
    for path in &paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let reply = send(&app, request(method, path)).await;
            if !is_fallback(&reply).await && !routed(method, path) {
                extra.push(format!("{method} {path} (answered {})", reply.status));
            }
        }
    }
    assert!(
        extra.is_empty(),
        "the dev server answers routes template.yaml lacks:\n  {}",
        extra.join("\n  ")
    );
}

#[test]
fn sample_paths_match_their_template_paths() {
    for (template, path, matches) in [
        ("/oauth/callback/{provider}", "/oauth/callback/github", true),
        ("/oauth/callback/{provider}", "/oauth/callback/", false),
        ("/oauth/callback/{provider}", "/oauth/callback/a/b", false),
        ("/files/{proxy+}", "/files/a/b", true),
        ("/mcp", "/mcp", true),
        ("/mcp", "/mcp/x", false),
    ] {
        assert_eq!(path_matches(template, path), matches, "{template} vs {path}");
        assert!(path_matches(template, &sample_path(template)), "{template}");
    }
}

/// The metadata advertises only endpoints that exist, locally and behind API Gateway.
#[tokio::test]
async fn every_endpoint_the_metadata_advertises_is_served_and_routed() {
    let (state, _dir) = state(common::config());
    let app = devserver::app(state);
    let issuer = "http://localhost:3000";
    let metadata = send(&app, request("GET", urls::AS_METADATA_PATH)).await.json();
    let routes = template_routes();
    let mut checked = 0;
    for (field, value) in metadata.as_object().expect("metadata object") {
        // Endpoint URLs under the issuer (the issuer itself is no endpoint).
        let Some(path) = value
            .as_str()
            .and_then(|v| v.strip_prefix(issuer))
            .filter(|p| p.starts_with('/'))
        else {
            continue;
        };
        // Browsers navigate to the authorization endpoint and clients fetch the JWKS; every
        // other endpoint takes a POST.
        let method = match field.as_str() {
            "authorization_endpoint" | "jwks_uri" => "GET",
            _ => "POST",
        };
        let reply = send(&app, request(method, path)).await;
        assert!(
            !is_fallback(&reply).await,
            "{field}: the dev server does not serve {method} {path}"
        );
        assert!(
            routes.iter().any(|r| r.method == method && path_matches(&r.path, path)),
            "{field}: template.yaml does not route {method} {path}"
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the authorization, token and JWKS endpoints at least: {metadata}"
    );
}
