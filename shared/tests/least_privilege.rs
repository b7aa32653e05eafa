//! Least privilege: each function's IAM policy in `template.yaml` grants exactly the DynamoDB
//! actions its code can reach (`least_privilege/access.rs`), no more and no fewer; and running every flow
//! with a recording store per function reaches nothing outside that list.

#[path = "least_privilege/access.rs"]
mod access;
mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::oauth::{Harness, PASSWORD};
use http::StatusCode;
use mcp_oauth::store::Table;
use serde_norway::Value;
use tables::TEMPLATE;

/// (table, action, index)
type Grant = (Table, String, Option<String>);

fn scalar(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

/// A statement, or the one a `!If [Condition, statement, !Ref AWS::NoValue]` grants when its
/// condition holds: a conditional grant is checked as if granted.
fn statement(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) if t.tag == "If" => &t.value.as_sequence().expect("!If takes a list")[1],
        other => other,
    }
}

fn tables_by_logical_id(doc: &Value) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if scalar(&res["Type"]) == Some("AWS::DynamoDB::Table") {
            let name = scalar(&res["Properties"]["TableName"]).unwrap();
            let table = Table::from_name(name.trim_start_matches("${AWS::StackName}-")).unwrap();
            out.insert(scalar(id).unwrap().to_owned(), table);
        }
    }
    out
}

/// `!GetAtt X.Arn` or `!Sub "${X.Arn}/index/NAME"` as (table, index).
fn resource(v: &Value, tables: &BTreeMap<String, Table>) -> (Table, Option<String>) {
    let text = scalar(v).unwrap_or_else(|| panic!("unreadable policy resource {v:?}"));
    let (id, index) = match text.strip_prefix("${") {
        Some(rest) => {
            let (arn, tail) = rest.split_once('}').unwrap();
            (
                arn.trim_end_matches(".Arn").to_owned(),
                tail.strip_prefix("/index/").map(str::to_owned),
            )
        }
        None => (text.trim_end_matches(".Arn").to_owned(), None),
    };
    let table = *tables
        .get(&id)
        .unwrap_or_else(|| panic!("policy names {id}, which is no table"));
    (table, index)
}

/// Per function, the non-DynamoDB actions its policy grants.
fn granted_services() -> BTreeMap<String, BTreeSet<String>> {
    let doc: Value = serde_norway::from_str(TEMPLATE).unwrap();
    let mut out = BTreeMap::new();
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if scalar(&res["Type"]) != Some("AWS::Serverless::Function") {
            continue;
        }
        let mut actions = BTreeSet::new();
        for policy in res["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for st in policy["Statement"].as_sequence().into_iter().flatten().map(statement) {
                let listed: Vec<&str> = match &st["Action"] {
                    Value::Sequence(a) => a.iter().filter_map(scalar).collect(),
                    other => vec![scalar(other).unwrap()],
                };
                for a in listed.into_iter().filter(|a| !a.starts_with("dynamodb:")) {
                    assert!(!a.contains('*'), "{id:?}: wildcard action {a}");
                    assert!(
                        !matches!(&st["Resource"], Value::String(r) if r == "*"),
                        "{id:?}: {a} on every resource"
                    );
                    actions.insert(a.to_owned());
                }
            }
        }
        out.insert(scalar(id).unwrap().to_owned(), actions);
    }
    out
}

#[test]
fn each_functions_policy_grants_exactly_the_service_actions_its_code_calls() {
    for (function, actions) in granted_services() {
        let needed: BTreeSet<String> = access::service_actions(&function)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(actions, needed, "{function}");
    }
}

fn granted() -> BTreeMap<String, BTreeSet<Grant>> {
    let doc: Value = serde_norway::from_str(TEMPLATE).unwrap();
    let tables = tables_by_logical_id(&doc);
    let mut out = BTreeMap::new();
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if scalar(&res["Type"]) != Some("AWS::Serverless::Function") {
            continue;
        }
        let mut grants = BTreeSet::new();
        for policy in res["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            let statements = policy["Statement"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{id:?}: only inline statements are allowed"));
            for st in statements.iter().map(statement) {
                assert_eq!(scalar(&st["Effect"]), Some("Allow"));
                let actions: Vec<&str> = match &st["Action"] {
                    Value::Sequence(a) => a.iter().filter_map(scalar).collect(),
                    other => vec![scalar(other).unwrap()],
                };
                // Other services are checked by each_functions_policy_grants_exactly_the_service_actions….
                if actions.iter().all(|a| !a.starts_with("dynamodb:")) {
                    continue;
                }
                let resources: Vec<&Value> = match &st["Resource"] {
                    Value::Sequence(r) => r.iter().collect(),
                    other => vec![other],
                };
                for action in &actions {
                    assert!(!action.contains('*'), "{id:?}: wildcard action {action}");
                    for r in &resources {
                        let (table, index) = resource(r, &tables);
                        grants.insert((table, (*action).to_owned(), index));
                    }
                }
            }
        }
        out.insert(scalar(id).unwrap().to_owned(), grants);
    }
    out
}

fn needed(function: &str) -> BTreeSet<Grant> {
    let declared = access::of(function)
        .unwrap_or_else(|| panic!("{function} has no declared access in least_privilege/access.rs"));
    let mut out = BTreeSet::new();
    for (table, op) in declared {
        for (action, index) in access::dynamodb_actions(*op) {
            out.insert((*table, (*action).to_owned(), index.map(str::to_owned)));
        }
    }
    out
}

#[test]
fn each_functions_policy_grants_exactly_the_actions_its_code_can_reach() {
    let granted = granted();
    assert!(granted.len() >= 6, "{:?}", granted.keys());
    for (function, grants) in &granted {
        let needed = needed(function);
        let extra: Vec<_> = grants.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(grants).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{function}: extra grants {extra:?}, missing grants {missing:?}"
        );
    }
}

/// Every flow, each function on its own recording store handle: what each function touched.
#[tokio::test]
async fn every_flow_stays_within_each_functions_declared_access() {
    let (store, _, _dir) = common::embedded();
    let (h, recorders) = Harness::recording(store, &[("REFRESH_GRACE", "1")]);
    // Registration, sign-up, consent, code, tokens, refresh, refresh reuse.
    let (client, tokens) = h.tokens().await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let next = h.refresh(&client, &rt).await.json();
    h.store.clock().advance(5);
    assert_eq!(h.refresh(&client, &rt).await.json()["error"], "invalid_grant");
    // A second grant, revoked by the client; a replayed code.
    let code = h.code_for(&client).await;
    let second = h.redeem(&client, &code).await.json();
    h.redeem(&client, &code).await;
    h.call(common::post_form(
        "/api/oauth/revoke",
        &[
            ("client_id", &client.id),
            ("token", second["refresh_token"].as_str().unwrap()),
        ],
    ))
    .await;
    // A failed and a successful login, consent remembered, logout.
    // An https client, for which remembered consent skips the page.
    let client = h.public_web_client().await;
    let mut browser = h.browser();
    let email = "lp@example.com";
    let live = h.sign_up_and_approve(&mut browser, &client, email, &[]).await;
    // A live grant for the MCP calls below (the first grants were revoked above).
    let live = h.redeem(&client, &live["code"]).await.json();
    let login = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "login")]))
        .await;
    browser
        .submit(
            &login,
            "login",
            &[("email", email), ("password", "wrong password here")],
        )
        .await;
    let login = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "login")]))
        .await;
    let done = browser
        .submit(&login, "login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let consent = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "consent")]))
        .await;
    let mut fields = common::oauth::inputs(&consent.text());
    fields.insert("action".into(), "logout".into());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.send(common::post_form("/oauth/logout", &pairs)).await;
    // Discovery and the MCP tools.
    h.call(common::get("/.well-known/jwks.json")).await;
    let _ = &next;
    let access_token = live["access_token"].as_str().unwrap();
    for (id, tool, args) in [
        (1, "whoami", serde_json::json!({})),
        (2, "notes_add", serde_json::json!({"text": "hello"})),
        (3, "notes_list", serde_json::json!({})),
        (4, "notes_get", serde_json::json!({"id": "nope"})),
        (5, "notes_delete", serde_json::json!({"id": "nope"})),
    ] {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}});
        let mut req = common::post_json("/mcp", &body);
        let headers = req.headers_mut();
        headers.insert("authorization", format!("Bearer {access_token}").parse().unwrap());
        headers.insert("accept", "application/json, text/event-stream".parse().unwrap());
        headers.insert("mcp-protocol-version", "2025-11-25".parse().unwrap());
        let reply = h.call(req).await;
        assert_eq!(reply.status, StatusCode::OK, "{tool}: {}", reply.text());
    }

    for (function, recorder) in recorders {
        let seen = recorder.lock().unwrap().clone();
        assert!(
            !seen.is_empty() || function == "RevokeFunction",
            "{function} was never exercised"
        );
        let declared: BTreeSet<_> = access::of(function).unwrap().iter().copied().collect();
        let beyond: Vec<_> = seen.difference(&declared).collect();
        assert!(
            beyond.is_empty(),
            "{function} reached {beyond:?}, which least_privilege/access.rs does not declare"
        );
    }
}
