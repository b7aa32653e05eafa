//! The sample REST API (payload 1.0) event in `events/rest-v1/`: the MCP function behind an API
//! Gateway REST API stage instead of the HTTP API. Its own test binary, because it sets a process
//! environment variable that `lambda_http` reads.
//!
//! `lambda_http` puts a REST API stage in front of the path (`/prod/mcp`), so a REST deployment
//! sets `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` for the routes to match, and `PUBLIC_URL` to the
//! stage's base URL so that the resource URL names the stage.

mod common;

use common::send;
use lambda_http::request::RequestContext;
use mcp_oauth::app::function;

#[tokio::test]
async fn rest_api_v1_mcp_event_is_decoded_and_answered_with_the_bearer_challenge() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/rest-v1/mcp-post.json");
    let text = std::fs::read_to_string(&path).expect("events/rest-v1/mcp-post.json");

    let req = lambda_http::request::from_str(&text).expect("lambda_http decodes a REST API event");
    assert!(matches!(
        req.extensions().get::<RequestContext>(),
        Some(RequestContext::ApiGatewayV1(_))
    ));
    assert_eq!(
        req.uri().path(),
        "/prod/mcp",
        "lambda_http keeps the stage in the path by default"
    );

    // SAFETY: this binary's only test sets the variable before any other thread reads the environment.
    unsafe { std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true") };
    let req = lambda_http::request::from_str(&text).expect("lambda_http decodes a REST API event");
    assert_eq!(req.uri().path(), "/mcp");

    let mut config = common::config();
    config.public_url = None;
    let (state, _dir) = common::state(config);
    let lambda = function(mcp_oauth::endpoints::mcp::routes, state);
    let reply = send(&lambda, req.map(axum::body::Body::new)).await;
    assert_eq!(reply.status.as_u16(), 401, "{}", reply.text());
    let www = reply.header("www-authenticate").unwrap_or_default();
    assert!(www.starts_with("Bearer "), "{www:?}");
    let prm = "https://r7c2kq9x4d.execute-api.us-east-1.amazonaws.com/.well-known/oauth-protected-resource/mcp";
    assert!(www.contains(&format!(r#"resource_metadata="{prm}""#)), "{www:?}");
}
