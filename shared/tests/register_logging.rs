//! The `client_registered` security event. Its own test binary: tracing caches per-callsite
//! interest process-wide, so a subscriber scoped to one test can miss events while other tests in
//! the same process first reach the same callsite.

mod common;

use common::{config_with, post_json, send};
use http::StatusCode;
use mcp_oauth::app::function;
use mcp_oauth::endpoints::register;
use serde_json::{Value, json};

#[tokio::test]
async fn registration_logs_a_client_registered_event_without_the_secret() {
    let logs = common::Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (store, _clock, _dir) = common::embedded();
    let router = function(register::routes, common::new_state(config_with(&[]), store));
    let body = json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "token_endpoint_auth_method": "client_secret_post",
    });
    let r = send(&router, post_json("/api/oauth/register", &body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    let secret = body["client_secret"].as_str().expect("secret");
    let client_id = body["client_id"].as_str().unwrap();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let event = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["event"] == "client_registered")
        .unwrap_or_else(|| panic!("no client_registered event in {text}"));
    assert_eq!(event["fields"]["client_id"], client_id);
    assert_eq!(event["fields"]["auth_method"], "client_secret_post");
    assert!(!text.contains(secret), "the secret was logged: {text}");
}
