//! The MCP features beyond tools, through `/mcp` in process on the embedded store: resources,
//! prompts, completion, logging, progress, multi round-trip input with its sealed
//! `requestState`, the `Host` check, and the conformance fixtures being off unless switched on.
//! Each test is named for the rule it proves; the conformance suite itself runs in
//! `infra/scripts/conformance.sh`.

mod common;
mod mcp_support;

use common::oauth::Harness;
use common::{Reply, embedded};
use http::StatusCode;
use mcp_oauth::mcp::input::{STATE_TTL, Seal, StateError};
use mcp_oauth::store::Store;
use mcp_oauth::tokens::principal::Principal;
use mcp_support::*;
use serde_json::{Value, json};

const FIXTURES: &[(&str, &str)] = &[("MCP_CONFORMANCE_FIXTURES", "1")];

async fn with_fixtures(store: Store) -> Session {
    Session::new(Harness::with_config(store, FIXTURES), ALL_SCOPES).await
}

async fn without_fixtures(store: Store) -> Session {
    Session::new(Harness::new(store), ALL_SCOPES).await
}

/// The `Mcp-Name` a 2026-07-28 request carries: the tool or prompt name, or the resource URI.
fn mcp_name(method: &str, params: &Value) -> Option<String> {
    let field = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return None,
    };
    params.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// A 2026-07-28 request whose `_meta` is the usual one with `meta` merged over it.
async fn modern(s: &Session, method: &str, mut params: Value, meta: Value) -> Reply {
    let mut full = mcp_support::meta();
    for (k, v) in meta.as_object().cloned().unwrap_or_default() {
        full[k] = v;
    }
    params["_meta"] = full;
    let name = mcp_name(method, &params);
    let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
    if let Some(name) = &name {
        headers.push(("mcp-name", name));
    }
    s.send(post(Some(&s.token), &rpc(1, method, params), &headers)).await
}

/// The JSON-RPC messages of a reply: the one JSON body, or every event of an SSE body.
fn messages(reply: &Reply) -> Vec<Value> {
    if reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"))
    {
        reply
            .text()
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).expect("JSON event data"))
            .collect()
    } else {
        vec![reply.json()]
    }
}

/// The `result` of a successful reply (the last message, after any notifications).
fn result(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let last = messages(reply).pop().expect("a message");
    assert!(last.get("error").is_none(), "{last}");
    last["result"].clone()
}

/// The `error` of a reply, with the reply's status.
fn error(reply: &Reply) -> (StatusCode, Value) {
    let body = reply.json();
    assert!(body.get("error").is_some(), "expected an error: {body}");
    (reply.status, body["error"].clone())
}

fn notifications(reply: &Reply, method: &str) -> Vec<Value> {
    messages(reply)
        .into_iter()
        .filter(|m| m["method"] == method)
        .map(|m| m["params"].clone())
        .collect()
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|e| e[field].as_str().unwrap().to_owned())
        .collect()
}

// --- the fixtures switch ----------------------------------------------------------------------

#[tokio::test]
async fn fixtures_are_off_by_default() {
    let (store, _, _dir) = embedded();
    let s = without_fixtures(store).await;
    let tools = result(&s.legacy("tools/list", json!({})).await);
    assert!(
        names(&tools["tools"], "name").iter().all(|n| !n.starts_with("test_")),
        "{tools}"
    );
    assert_eq!(
        result(&s.legacy("resources/list", json!({})).await)["resources"],
        json!([])
    );
    assert_eq!(
        result(&s.legacy("resources/templates/list", json!({})).await)["resourceTemplates"],
        json!([])
    );
    assert_eq!(result(&s.legacy("prompts/list", json!({})).await)["prompts"], json!([]));
    let reply = s
        .legacy("tools/call", json!({"name": "test_simple_text", "arguments": {}}))
        .await;
    assert_eq!(error(&reply).1["code"], -32602);
}

#[tokio::test]
async fn fixtures_are_served_when_switched_on() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let tools = names(&result(&s.legacy("tools/list", json!({})).await)["tools"], "name");
    for expected in [
        "whoami",
        "test_simple_text",
        "test_tool_with_progress",
        "test_input_required_result_elicitation",
    ] {
        assert!(tools.iter().any(|t| t == expected), "{expected} missing from {tools:?}");
    }
    let text = result(
        &s.legacy("tools/call", json!({"name": "test_simple_text", "arguments": {}}))
            .await,
    );
    assert_eq!(
        text["content"][0]["text"],
        "This is a simple text response for testing."
    );
}

#[tokio::test]
async fn capabilities_name_only_what_the_catalog_offers() {
    let (store, _, _dir) = embedded();
    let plain = without_fixtures(store.clone()).await;
    let fixtures = with_fixtures(store).await;
    let init = json!({"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
    let caps = |reply: &Reply| result(reply)["capabilities"].clone();

    let production = caps(
        &plain
            .send(post(Some(&plain.token), &rpc(1, "initialize", init.clone()), &[]))
            .await,
    );
    assert_eq!(
        production,
        json!({"tools": {"listChanged": false}, "resources": {}, "prompts": {}, "completions": {}}),
        "no logging without a tool that logs, no subscribe without a resource"
    );
    let legacy = caps(
        &fixtures
            .send(post(Some(&fixtures.token), &rpc(1, "initialize", init), &[]))
            .await,
    );
    assert_eq!(legacy["resources"], json!({"subscribe": true}));
    assert_eq!(legacy["logging"], json!({}));
    let modern = caps(&fixtures.modern("server/discover", json!({})).await);
    assert_eq!(
        modern["resources"],
        json!({}),
        "2026-07-28 subscriptions need subscriptions/listen, which holds a stream open"
    );
}

// --- resources ------------------------------------------------------------------------------------

#[tokio::test]
async fn resources_list_names_each_fixed_resource_and_templates_are_listed_apart() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let list = result(&s.legacy("resources/list", json!({})).await);
    assert_eq!(
        names(&list["resources"], "uri"),
        ["test://static-text", "test://static-binary", "test://watched-resource"]
    );
    assert_eq!(list["resources"][0]["mimeType"], "text/plain");
    assert_eq!(list["resources"][0]["title"], "Static Text Resource");
    let templates = result(&s.legacy("resources/templates/list", json!({})).await);
    assert_eq!(
        names(&templates["resourceTemplates"], "uriTemplate"),
        ["test://template/{id}/data"]
    );
    let cursor = s.legacy("resources/list", json!({"cursor": "next"})).await;
    assert_eq!(error(&cursor).1["code"], -32602, "no cursor was ever handed out");
}

#[tokio::test]
async fn reading_returns_text_or_a_base64_blob_for_the_uri() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let text = result(&s.legacy("resources/read", json!({"uri": "test://static-text"})).await);
    assert_eq!(
        text["contents"],
        json!([{"uri": "test://static-text", "mimeType": "text/plain",
                "text": "This is the content of the static text resource."}])
    );
    let blob = result(&s.legacy("resources/read", json!({"uri": "test://static-binary"})).await);
    let data = blob["contents"][0]["blob"].as_str().unwrap();
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("standard base64");
    assert_eq!(&png[1..4], b"PNG");
}

#[tokio::test]
async fn a_template_uri_is_read_with_its_variables_filled_in() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let read = result(
        &s.legacy("resources/read", json!({"uri": "test://template/123/data"}))
            .await,
    );
    assert_eq!(read["contents"][0]["uri"], "test://template/123/data");
    let body: Value = serde_json::from_str(read["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"id": "123", "templateTest": true, "data": "Data for ID: 123"})
    );
    let reply = s
        .legacy("resources/read", json!({"uri": "test://template/1/2/data"}))
        .await;
    assert_eq!(error(&reply).1["code"], -32002, "a variable matches one segment only");
}

#[tokio::test]
async fn an_unknown_resource_is_32002_before_2026_07_28_and_32602_from_it_naming_the_uri() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let uri = "test://nothing-here";
    let (status, legacy) = error(&s.legacy("resources/read", json!({"uri": uri})).await);
    assert_eq!(
        (status, legacy["code"].clone(), legacy["data"]["uri"].clone()),
        (StatusCode::OK, json!(-32002), json!(uri))
    );
    let (_, modern) = error(&modern(&s, "resources/read", json!({"uri": uri}), json!({})).await);
    assert_eq!(
        (modern["code"].clone(), modern["data"]["uri"].clone()),
        (json!(-32602), json!(uri))
    );
}

#[tokio::test]
async fn subscriptions_are_accepted_only_before_2026_07_28_and_only_for_known_resources() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store.clone()).await;
    let watched = json!({"uri": "test://watched-resource"});
    assert_eq!(
        result(&s.legacy("resources/subscribe", watched.clone()).await),
        json!({})
    );
    assert_eq!(
        result(&s.legacy("resources/unsubscribe", watched.clone()).await),
        json!({})
    );
    let unknown = s.legacy("resources/subscribe", json!({"uri": "test://nothing"})).await;
    assert_eq!(error(&unknown).1["code"], -32002);
    let (status, gone) = error(&modern(&s, "resources/subscribe", watched.clone(), json!({})).await);
    assert_eq!((status, gone["code"].clone()), (StatusCode::NOT_FOUND, json!(-32601)));
    let plain = without_fixtures(store).await;
    let none = plain.legacy("resources/subscribe", watched).await;
    assert_eq!(
        error(&none).1["code"],
        -32601,
        "without a resource that never changes, subscribe is not offered"
    );
}

#[tokio::test]
async fn list_and_read_results_carry_caching_hints_under_2026_07_28_only() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    for (method, params) in [
        ("prompts/list", json!({})),
        ("resources/list", json!({})),
        ("resources/templates/list", json!({})),
        ("resources/read", json!({"uri": "test://static-text"})),
    ] {
        let modern = result(&modern(&s, method, params.clone(), json!({})).await);
        assert!(modern["ttlMs"].as_u64().is_some(), "{method}: {modern}");
        assert_eq!(modern["cacheScope"], "public", "{method}");
        assert_eq!(modern["resultType"], "complete", "{method}");
        let legacy = result(&s.legacy(method, params).await);
        assert!(
            legacy.get("ttlMs").is_none() && legacy.get("cacheScope").is_none(),
            "{method}"
        );
    }
}

// --- prompts and completion ----------------------------------------------------------------------

#[tokio::test]
async fn prompts_get_fills_in_its_arguments() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let list = result(&s.legacy("prompts/list", json!({})).await);
    let with_args = list["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test_prompt_with_arguments")
        .unwrap();
    assert_eq!(names(&with_args["arguments"], "name"), ["arg1", "arg2"]);
    assert_eq!(with_args["arguments"][0]["required"], true);
    let got = result(
        &s.legacy(
            "prompts/get",
            json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": "b"}}),
        )
        .await,
    );
    assert_eq!(
        got["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "Prompt with arguments: arg1='a', arg2='b'"}}])
    );
}

#[tokio::test]
async fn prompts_get_refuses_unknown_prompts_unknown_arguments_and_missing_required_ones() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    for params in [
        json!({"name": "no_such_prompt"}),
        json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "a"}}),
        json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": "b", "arg3": "c"}}),
        json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": 1, "arg2": "b"}}),
        json!({"name": "test_prompt_with_arguments", "arguments": ["a", "b"]}),
        json!({}),
    ] {
        let (status, e) = error(&s.legacy("prompts/get", params.clone()).await);
        assert_eq!((status, e["code"].clone()), (StatusCode::OK, json!(-32602)), "{params}");
    }
}

#[tokio::test]
async fn prompts_may_embed_resources_and_images() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let embedded = result(
        &s.legacy(
            "prompts/get",
            json!({"name": "test_prompt_with_embedded_resource", "arguments": {"resourceUri": "test://x"}}),
        )
        .await,
    );
    assert_eq!(embedded["messages"][0]["content"]["type"], "resource");
    assert_eq!(embedded["messages"][0]["content"]["resource"]["uri"], "test://x");
    let image = result(&s.legacy("prompts/get", json!({"name": "test_prompt_with_image"})).await);
    assert_eq!(image["messages"][0]["content"]["type"], "image");
    assert_eq!(image["messages"][0]["content"]["mimeType"], "image/png");
}

#[tokio::test]
async fn completion_suggests_the_offered_values_that_start_with_what_was_typed() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let complete = |reference: Value, name: &str, value: &str| json!({"ref": reference, "argument": {"name": name, "value": value}});
    let prompt = json!({"type": "ref/prompt", "name": "test_prompt_with_arguments"});
    let got = result(
        &s.legacy("completion/complete", complete(prompt.clone(), "arg1", "PAR"))
            .await,
    );
    assert_eq!(
        got["completion"],
        json!({"values": ["paris", "park", "party"], "total": 3, "hasMore": false})
    );
    let none = result(&s.legacy("completion/complete", complete(prompt, "arg1", "x")).await);
    assert_eq!(none["completion"]["values"], json!([]));
    let template = json!({"type": "ref/resource", "uri": "test://template/{id}/data"});
    let ids = result(&modern(&s, "completion/complete", complete(template, "id", "4"), json!({})).await);
    assert_eq!(ids["completion"]["values"], json!(["456"]));
}

#[tokio::test]
async fn completion_for_an_unknown_reference_or_argument_is_invalid_params() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    for params in [
        json!({"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "a", "value": ""}}),
        json!({"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"}, "argument": {"name": "zzz", "value": ""}}),
        json!({"ref": {"type": "ref/resource", "uri": "test://static-text"}, "argument": {"name": "id", "value": ""}}),
        json!({"ref": {"type": "ref/resource", "uri": "test://template/{id}/data"}, "argument": {"name": "other", "value": ""}}),
        json!({"ref": {"type": "ref/tool", "name": "x"}, "argument": {"name": "a", "value": ""}}),
        json!({"argument": {"name": "a", "value": ""}}),
    ] {
        let (_, e) = error(&s.legacy("completion/complete", params.clone()).await);
        assert_eq!(e["code"], -32602, "{params}");
    }
}

// --- logging and progress ------------------------------------------------------------------------

#[tokio::test]
async fn set_level_acknowledges_known_levels_refuses_others_and_is_gone_under_2026_07_28() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store.clone()).await;
    assert_eq!(
        result(&s.legacy("logging/setLevel", json!({"level": "debug"})).await),
        json!({})
    );
    let bad = s.legacy("logging/setLevel", json!({"level": "verbose"})).await;
    assert_eq!(error(&bad).1["code"], -32602);
    let (status, gone) = error(&modern(&s, "logging/setLevel", json!({"level": "debug"}), json!({})).await);
    assert_eq!((status, gone["code"].clone()), (StatusCode::NOT_FOUND, json!(-32601)));
    let plain = without_fixtures(store).await;
    let none = plain.legacy("logging/setLevel", json!({"level": "debug"})).await;
    assert_eq!(
        error(&none).1["code"],
        -32601,
        "no logging capability, no logging method"
    );
}

#[tokio::test]
async fn log_messages_precede_the_result_in_one_event_stream() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let reply = s
        .legacy("tools/call", json!({"name": "test_tool_with_logging", "arguments": {}}))
        .await;
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let all = messages(&reply);
    assert_eq!(all.len(), 4, "three log messages, then the result: {all:?}");
    assert!(all[..3].iter().all(|m| m["method"] == "notifications/message"));
    assert_eq!(all[0]["params"]["level"], "info");
    assert_eq!(all[3]["id"], 1);
    assert_eq!(all[3]["result"]["isError"], false);
}

#[tokio::test]
async fn under_2026_07_28_log_messages_need_the_requests_own_level_and_meet_it() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let call = json!({"name": "test_logging_tool", "arguments": {}});
    let silent = modern(&s, "tools/call", call.clone(), json!({})).await;
    assert!(
        notifications(&silent, "notifications/message").is_empty(),
        "no level, no messages"
    );
    let info = modern(
        &s,
        "tools/call",
        call.clone(),
        json!({"io.modelcontextprotocol/logLevel": "info"}),
    )
    .await;
    assert_eq!(notifications(&info, "notifications/message").len(), 1);
    let error_only = modern(
        &s,
        "tools/call",
        call.clone(),
        json!({"io.modelcontextprotocol/logLevel": "error"}),
    )
    .await;
    assert!(notifications(&error_only, "notifications/message").is_empty());
    let (_, bad) = error(
        &modern(
            &s,
            "tools/call",
            call,
            json!({"io.modelcontextprotocol/logLevel": "loud"}),
        )
        .await,
    );
    assert_eq!(bad["code"], -32602);
}

#[tokio::test]
async fn progress_is_reported_under_the_requests_token_before_the_result() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let call = json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p-1"}});
    let reply = s.legacy("tools/call", call).await;
    let progress = notifications(&reply, "notifications/progress");
    let values: Vec<i64> = progress.iter().map(|p| p["progress"].as_i64().unwrap()).collect();
    assert_eq!(values, [0, 50, 100]);
    assert!(
        progress
            .iter()
            .all(|p| p["progressToken"] == "p-1" && p["total"] == 100)
    );
    assert!(
        messages(&reply).last().unwrap().get("result").is_some(),
        "the result comes last"
    );
    let untracked = s
        .legacy(
            "tools/call",
            json!({"name": "test_tool_with_progress", "arguments": {}}),
        )
        .await;
    assert!(
        notifications(&untracked, "notifications/progress").is_empty(),
        "no token, no progress"
    );
    assert_eq!(untracked.header("content-type"), Some("application/json"));
}

// --- multi round-trip input -----------------------------------------------------------------------

/// Full client capabilities for input requests.
fn capable() -> Value {
    json!({"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "sampling": {}, "roots": {}}})
}

fn accept(content: Value) -> Value {
    json!({"action": "accept", "content": content})
}

#[tokio::test]
async fn a_tool_needing_input_answers_input_required_and_completes_on_the_retry() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let call = json!({"name": "test_input_required_result_elicitation", "arguments": {}});
    let first = result(&modern(&s, "tools/call", call.clone(), capable()).await);
    assert_eq!(first["resultType"], "input_required");
    assert_eq!(first["inputRequests"]["user_name"]["method"], "elicitation/create");
    assert!(
        first.get("ttlMs").is_none(),
        "an interim result carries no caching hints"
    );
    let mut retry = call.clone();
    retry["inputResponses"] = json!({"user_name": accept(json!({"name": "Alice"})), "extra": {"ignored": true}});
    let done = result(&modern(&s, "tools/call", retry, capable()).await);
    assert_eq!(done["resultType"], "complete");
    assert_eq!(done["content"][0]["text"], "Hello, Alice!");
    let mut wrong_key = call;
    wrong_key["inputResponses"] = json!({"someone_else": accept(json!({"name": "Bob"}))});
    let again = result(&modern(&s, "tools/call", wrong_key, capable()).await);
    assert_eq!(
        again["resultType"], "input_required",
        "a missing answer is asked for again"
    );
}

#[tokio::test]
async fn prompts_may_need_input_too() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let get = json!({"name": "test_input_required_result_prompt"});
    let first = result(&modern(&s, "prompts/get", get.clone(), capable()).await);
    assert_eq!(first["resultType"], "input_required");
    let mut retry = get;
    retry["inputResponses"] = json!({"user_context": accept(json!({"context": "tests"}))});
    let done = result(&modern(&s, "prompts/get", retry, capable()).await);
    assert_eq!(done["messages"][0]["content"]["text"], "Prompt with context: tests");
}

#[tokio::test]
async fn request_state_round_trips_sealed_across_rounds() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let call = json!({"name": "test_input_required_result_multi_round", "arguments": {}});
    let r1 = result(&modern(&s, "tools/call", call.clone(), capable()).await);
    let state1 = r1["requestState"].as_str().expect("a requestState").to_owned();
    assert!(
        !state1.contains("round"),
        "the state is encoded, not sent as plain JSON"
    );
    let mut retry = call.clone();
    retry["inputResponses"] = json!({"step1": accept(json!({"name": "Alice"}))});
    retry["requestState"] = state1.clone().into();
    let r2 = result(&modern(&s, "tools/call", retry, capable()).await);
    let state2 = r2["requestState"].as_str().unwrap().to_owned();
    assert_ne!(state1, state2);
    let mut last = call;
    last["inputResponses"] = json!({"step2": accept(json!({"color": "blue"}))});
    last["requestState"] = state2.into();
    let r3 = result(&modern(&s, "tools/call", last, capable()).await);
    assert_eq!(
        r3["content"][0]["text"],
        "Multi-round complete for Alice who likes blue"
    );
}

#[tokio::test]
async fn a_tampered_request_state_is_refused_with_invalid_params() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let call = json!({"name": "test_input_required_result_tampered_state", "arguments": {}});
    let first = result(&modern(&s, "tools/call", call.clone(), capable()).await);
    let state = first["requestState"].as_str().unwrap();
    let (body, mac) = state.split_once('.').unwrap();
    // Flip the state's content but keep its MAC, and keep the content but cut the MAC short.
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decoded = String::from_utf8(engine.decode(body).unwrap()).unwrap();
    let forged = engine.encode(decoded.replace("tamper-test", "tamper-tesT"));
    for bad in [
        format!("{state}-TAMPERED"),
        format!("{forged}.{mac}"),
        body.to_owned(),
        "x".into(),
    ] {
        let mut retry = call.clone();
        retry["inputResponses"] = json!({"confirm": accept(json!({"ok": true}))});
        retry["requestState"] = bad.clone().into();
        let (status, e) = error(&modern(&s, "tools/call", retry, capable()).await);
        assert_eq!((status, e["code"].clone()), (StatusCode::OK, json!(-32602)), "{bad}");
    }
    let mut honest = call;
    honest["inputResponses"] = json!({"confirm": accept(json!({"ok": true}))});
    honest["requestState"] = state.into();
    let done = result(&modern(&s, "tools/call", honest, capable()).await);
    assert_eq!(done["content"][0]["text"], "integrity-ok: state verified");
}

#[tokio::test]
async fn request_state_is_refused_from_another_user_or_on_another_request() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, FIXTURES);
    let alice = Session::new(h.clone(), ALL_SCOPES).await;
    let mallory = Session::new(h, ALL_SCOPES).await;
    let call = json!({"name": "test_input_required_result_request_state", "arguments": {}});
    let first = result(&modern(&alice, "tools/call", call.clone(), capable()).await);
    let mut replay = call;
    replay["inputResponses"] = json!({"confirm": accept(json!({"ok": true}))});
    replay["requestState"] = first["requestState"].clone();
    let (_, e) = error(&modern(&mallory, "tools/call", replay.clone(), capable()).await);
    assert_eq!(e["code"], -32602, "another user's state");
    let mut other_tool = replay.clone();
    other_tool["name"] = "test_input_required_result_tampered_state".into();
    let (_, e) = error(&modern(&alice, "tools/call", other_tool, capable()).await);
    assert_eq!(e["code"], -32602, "the state of another request");
    let done = result(&modern(&alice, "tools/call", replay, capable()).await);
    assert_eq!(done["content"][0]["text"], "state-ok: requestState validated");
}

#[tokio::test]
async fn input_responses_that_are_not_objects_of_objects_are_invalid_params() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    for responses in [json!({"user_name": 12345}), Value::Null, json!([1]), json!("x")] {
        let call =
            json!({"name": "test_input_required_result_elicitation", "arguments": {}, "inputResponses": responses});
        let (_, e) = error(&modern(&s, "tools/call", call, capable()).await);
        assert_eq!(e["code"], -32602, "{responses}");
    }
}

#[tokio::test]
async fn input_requests_are_only_for_capabilities_the_client_declared() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let only_sampling = json!({"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}});
    let asked = result(
        &modern(
            &s,
            "tools/call",
            json!({"name": "test_input_required_result_capabilities", "arguments": {}}),
            only_sampling,
        )
        .await,
    );
    let methods: Vec<&str> = asked["inputRequests"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["sampling/createMessage"]);
    // A tool asking for what the client cannot answer is refused by the server, not sent.
    let none = json!({"io.modelcontextprotocol/clientCapabilities": {}});
    let reply = modern(
        &s,
        "tools/call",
        json!({"name": "test_input_required_result_elicitation", "arguments": {}}),
        none.clone(),
    )
    .await;
    let (status, e) = error(&reply);
    assert_eq!((status, e["code"].clone()), (StatusCode::BAD_REQUEST, json!(-32021)));
    assert_eq!(e["data"]["requiredCapabilities"], json!({"elicitation": {}}));
    let (status, e) = error(
        &modern(
            &s,
            "tools/call",
            json!({"name": "test_missing_capability", "arguments": {}}),
            none,
        )
        .await,
    );
    assert_eq!(
        (status, e["data"]["requiredCapabilities"].clone()),
        (StatusCode::BAD_REQUEST, json!({"sampling": {}}))
    );
}

#[tokio::test]
async fn before_2026_07_28_a_tool_needing_input_says_why_in_an_error_result() {
    let (store, _, _dir) = embedded();
    let s = with_fixtures(store).await;
    let reply = s
        .legacy(
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "hi"}}),
        )
        .await;
    let r = result(&reply);
    assert_eq!(r["isError"], true);
    let why = text(&r);
    assert!(
        why.contains("sampling/createMessage") && why.contains("2026-07-28"),
        "{why}"
    );
    let prompt = s
        .legacy("prompts/get", json!({"name": "test_input_required_result_prompt"}))
        .await;
    assert_eq!(error(&prompt).1["code"], -32602);
}

#[tokio::test]
async fn a_sealed_state_opens_only_for_its_caller_its_request_and_its_lifetime() {
    let (store, _, _dir) = embedded();
    let state = common::state(store.clone());
    let signer = state.keys.signer().await.unwrap();
    let alice = Principal {
        user_id: "alice".into(),
        client_id: "client".into(),
        scopes: vec![],
        key_id: signer.kid.clone(),
        machine: false,
    };
    let bob = Principal {
        user_id: "bob".into(),
        ..alice.clone()
    };
    let args = json!({"x": 1});
    let seal = Seal::new(&state.keys, &alice, "tools/call", "t", &args);
    let sealed = seal.seal(&json!({"step": 2})).await.unwrap();
    assert_eq!(seal.open(&sealed).await, Ok(json!({"step": 2})));
    let as_bob = Seal::new(&state.keys, &bob, "tools/call", "t", &args);
    assert_eq!(as_bob.open(&sealed).await, Err(StateError::Foreign));
    let other_args = Seal::new(&state.keys, &alice, "tools/call", "t", &json!({"x": 2}));
    assert_eq!(other_args.open(&sealed).await, Err(StateError::Foreign));
    let unknown_key = Principal {
        key_id: "no-such-kid".into(),
        ..alice.clone()
    };
    assert_eq!(
        Seal::new(&state.keys, &unknown_key, "tools/call", "t", &args)
            .seal(&json!(1))
            .await,
        Err(StateError::Unavailable)
    );
    store.clock().advance(STATE_TTL + 1);
    assert_eq!(seal.open(&sealed).await, Err(StateError::Expired));
}

// --- DNS rebinding ------------------------------------------------------------------------------

#[tokio::test]
async fn a_local_server_refuses_a_request_naming_a_foreign_host() {
    let (store, _, _dir) = embedded();
    let s = without_fixtures(store).await;
    let discover = rpc(1, "server/discover", with_meta(json!({})));
    let headers = |host: &'static str| {
        vec![
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "server/discover"),
            ("host", host),
        ]
    };
    let evil = s
        .send(post(Some(&s.token), &discover, &headers("evil.example.com")))
        .await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    for ok in ["localhost:3000", "127.0.0.1:8123"] {
        let reply = s.send(post(Some(&s.token), &discover, &headers(ok))).await;
        assert_eq!(reply.status, StatusCode::OK, "{ok}: {}", reply.text());
    }
}
