//! The tool API as a fork uses it: one new tool, with a scope of its own declared beside it,
//! added to the deployment's catalog — and nothing else changed. Its scope then shows in both
//! metadata documents, on the consent screen, in `tools/list` filtering and in the 403 step-up;
//! the tool keeps the state it was built with, its log and progress notifications reach the
//! client through the HTTP transport, and the data handle it gets cannot reach another user's
//! items.

mod common;
mod mcp_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::oauth::{Harness, redirect_params};
use common::{Reply, config_with, embedded, get, new_state};
use http::StatusCode;
use mcp_oauth::mcp::data::UserData;
use mcp_oauth::mcp::notify::LogLevel;
use mcp_oauth::mcp::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult};
use mcp_oauth::scopes::ScopeInfo;
use mcp_oauth::store::Store;
use mcp_oauth::tokens::principal::Principal;
use mcp_support::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

// --- the fork's tool, as the README's "Adding a tool" shows it ---------------------------------

const FORECAST_READ: ScopeInfo = ScopeInfo::new("forecast:read", "See the weather forecast for places you name");

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ForecastArgs {
    /// The place to forecast.
    city: String,
}

/// State built once, with the catalog: a configured greeting and a count of calls.
struct Forecast {
    unit: &'static str,
    calls: Arc<AtomicUsize>,
}

impl Tool for Forecast {
    type Args = ForecastArgs;
    const NAME: &'static str = "forecast";
    const TITLE: &'static str = "Forecast";
    const DESCRIPTION: &'static str = "Tomorrow's weather for a city.";
    const SCOPES: &'static [ScopeInfo] = &[FORECAST_READ];
    const LOGS: bool = true;

    async fn call(&self, cx: ToolContext, ForecastArgs { city }: ForecastArgs) -> ToolResult {
        if city.is_empty() {
            return Err(ToolError::Failed("name a city".into()));
        }
        cx.notify.progress(0.0, Some(1.0), None);
        cx.notify
            .log(LogLevel::Info, "forecast", json!(format!("forecasting {city}")));
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        cx.notify.progress(1.0, Some(1.0), None);
        Ok(ToolOutput::json(
            json!({"city": city, "high": 21, "unit": self.unit, "call": n}),
        ))
    }
}

fn harness(store: Store, calls: Arc<AtomicUsize>) -> Harness {
    let catalog = catalog::catalog().tool(Forecast { unit: "celsius", calls });
    Harness::with_state(new_state(config_with(&[]), store).with_catalog(catalog))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn tool_names(reply: &Reply) -> Vec<String> {
    let body = reply.json();
    body["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {body}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The JSON-RPC messages of an SSE reply, in order.
fn events(reply: &Reply) -> Vec<Value> {
    assert_eq!(
        reply.header("content-type"),
        Some("text/event-stream"),
        "{}",
        reply.text()
    );
    reply
        .text()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("JSON event data"))
        .collect()
}

#[tokio::test]
async fn a_new_tools_scope_is_listed_in_both_metadata_documents() {
    let (store, _, _dir) = embedded();
    let h = harness(store, Arc::default());
    let prm = h.call(get("/.well-known/oauth-protected-resource/mcp")).await.json();
    assert!(
        strings(&prm["scopes_supported"]).contains(&"forecast:read".to_owned()),
        "{prm}"
    );
    let asm = h.call(get("/.well-known/oauth-authorization-server")).await.json();
    assert!(
        strings(&asm["scopes_supported"]).contains(&"forecast:read".to_owned()),
        "{asm}"
    );
    // The deployment's own catalog, without the tool, does not know the scope.
    let (plain_store, _, _dir2) = embedded();
    let plain = Harness::new(plain_store);
    let prm = plain
        .call(get("/.well-known/oauth-protected-resource/mcp"))
        .await
        .json();
    assert!(
        !strings(&prm["scopes_supported"]).contains(&"forecast:read".to_owned()),
        "{prm}"
    );
}

#[tokio::test]
async fn the_consent_screen_describes_a_new_tools_scope_in_its_own_words() {
    let (store, _, _dir) = embedded();
    let h = harness(store, Arc::default());
    let client = h.public_client().await;
    let mut browser = h.browser();
    let url = Harness::authorize_url(&client, &[("scope", "mcp:tools:execute forecast:read")]);
    let login = browser.get(&url).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let signup = browser.submit(&login, "show_signup", &[]).await;
    let email = "forecaster@example.com";
    let verify = browser
        .submit(
            &signup,
            "signup",
            &[("email", email), ("password", common::oauth::PASSWORD)],
        )
        .await;
    let consent = h.enter_code(&mut browser, &verify, email).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text());
    assert!(consent.text().contains(FORECAST_READ.description), "{}", consent.text());
    let done = browser.submit(&consent, "approve", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let granted = h.redeem(&client, &redirect_params(&done)["code"]).await.json();
    assert_eq!(granted["scope"], "mcp:tools:execute forecast:read", "{granted}");
}

#[tokio::test]
async fn tools_list_shows_a_new_tool_only_to_tokens_with_its_scope() {
    let (store, _, _dir) = embedded();
    let h = harness(store, Arc::default());
    let without = Session::new(h.clone(), "mcp:tools:read mcp:tools:execute").await;
    let names = tool_names(&without.legacy("tools/list", json!({})).await);
    assert!(!names.contains(&"forecast".to_owned()), "{names:?}");
    assert!(names.contains(&"notes_list".to_owned()), "{names:?}");
    let with = Session::new(h, "mcp:tools:read mcp:tools:execute forecast:read").await;
    assert!(tool_names(&with.legacy("tools/list", json!({})).await).contains(&"forecast".to_owned()));
}

#[tokio::test]
async fn calling_a_new_tool_without_its_scope_is_a_step_up_challenge_naming_it() {
    let (store, _, _dir) = embedded();
    let h = harness(store, Arc::default());
    let s = Session::new(h, "mcp:tools:read mcp:tools:execute").await;
    let reply = s
        .legacy("tools/call", json!({"name": "forecast", "arguments": {"city": "Oslo"}}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let www = reply.header("www-authenticate").expect("a challenge").to_owned();
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(
        www.contains(r#"scope="mcp:tools:read mcp:tools:execute forecast:read""#),
        "{www}"
    );
}

#[tokio::test]
async fn a_tool_keeps_its_state_and_its_log_and_progress_reach_the_client_over_http() {
    let (store, _, _dir) = embedded();
    let calls = Arc::new(AtomicUsize::new(0));
    let h = harness(store, calls.clone());
    let s = Session::new(h, "mcp:tools:read mcp:tools:execute forecast:read").await;
    let init = s
        .legacy(
            "initialize",
            json!({"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        )
        .await
        .json();
    assert_eq!(init["result"]["capabilities"]["logging"], json!({}), "{init}");
    for n in 1..=2 {
        let call = json!({"name": "forecast", "arguments": {"city": "Oslo"}, "_meta": {"progressToken": "f"}});
        let all = events(&s.legacy("tools/call", call).await);
        let methods: Vec<&str> = all.iter().map(|m| m["method"].as_str().unwrap_or("")).collect();
        assert_eq!(
            methods,
            [
                "notifications/progress",
                "notifications/message",
                "notifications/progress",
                ""
            ],
            "{all:?}"
        );
        assert_eq!(all[1]["params"]["data"], "forecasting Oslo");
        assert_eq!(all[2]["params"]["progressToken"], "f");
        let result = &all[3]["result"]["structuredContent"];
        assert_eq!(
            (result["unit"].clone(), result["call"].clone()),
            (json!("celsius"), json!(n))
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one tool value served both calls");
}

#[tokio::test]
async fn without_a_tool_that_logs_the_server_declares_no_logging() {
    let (store, _, _dir) = embedded();
    let s = Session::new(Harness::new(store), ALL_SCOPES).await;
    let init = s
        .legacy(
            "initialize",
            json!({"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        )
        .await
        .json();
    assert!(init["result"]["capabilities"].get("logging").is_none(), "{init}");
}

// --- the data handle ---------------------------------------------------------------------------

fn principal(user_id: &str) -> Principal {
    Principal {
        user_id: user_id.into(),
        client_id: "c".into(),
        scopes: Vec::new(),
        key_id: "k".into(),
        machine: false,
    }
}

async fn one_user_cannot_reach_anothers_items(store: Store) {
    let alice = UserData::new(store.clone(), &principal("alice")).collection("things");
    let bob = UserData::new(store.clone(), &principal("bob")).collection("things");
    let machine = UserData::new(store, &principal("client:alice")).collection("things");
    assert!(alice.create("one", &json!({"secret": "alice's"})).await.unwrap());
    // The same item id in another caller's collection is another item.
    assert_eq!(bob.get::<Value>("one").await.unwrap(), None);
    assert!(bob.list::<Value>().await.unwrap().is_empty());
    assert!(!bob.remove("one").await.unwrap(), "bob cannot delete alice's item");
    assert!(bob.create("one", &json!({"secret": "bob's"})).await.unwrap());
    // Ids that could splice one caller's key into another's are never found and never written.
    assert_eq!(machine.get::<Value>("one").await.unwrap(), None);
    assert_eq!(bob.get::<Value>("alice:one").await.unwrap(), None);
    assert!(bob.create("x:y", &json!({})).await.is_err());
    assert_eq!(
        alice.get::<Value>("one").await.unwrap(),
        Some(json!({"secret": "alice's"})),
        "alice's item is untouched"
    );
    assert_eq!(alice.list::<Value>().await.unwrap().len(), 1);
}

#[tokio::test]
async fn one_user_cannot_reach_anothers_items_embedded() {
    let (store, _, _dir) = embedded();
    one_user_cannot_reach_anothers_items(store).await;
}

#[tokio::test]
async fn one_user_cannot_reach_anothers_items_dynamo() {
    let (store, _, ()) = common::dynamo().await;
    one_user_cannot_reach_anothers_items(store).await;
}
