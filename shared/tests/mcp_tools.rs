//! The built-in tools through `/mcp`: `whoami` and the per-user notes, on both storage backends
//! (notes are found by owner, which each backend implements its own way), and `tools/list`
//! filtering by the token's scopes.

mod common;
mod mcp_support;

use common::oauth::Harness;
use http::StatusCode;
use mcp_oauth::store::Store;
use mcp_support::*;
use serde_json::{Value, json};

fn tool_names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {list}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn whoami_returns_the_signed_up_email(store: Store) {
    let s = Session::new(Harness::new(store), ALL_SCOPES).await;
    let result = s.call_tool("whoami", json!({})).await;
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["email"], s.email.as_str());
    assert!(
        result["structuredContent"]["user_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

async fn notes_are_private_to_their_user(store: Store) {
    let h = Harness::new(store);
    let alice = Session::new(h.clone(), ALL_SCOPES).await;
    let bob = Session::new(h, ALL_SCOPES).await;
    let added = alice.call_tool("notes_add", json!({"text": "alice's secret"})).await;
    assert_eq!(added["isError"], false, "{added}");
    let id = added["structuredContent"]["id"].as_str().unwrap().to_owned();

    let mine = alice.call_tool("notes_list", json!({})).await;
    assert_eq!(mine["structuredContent"]["notes"][0]["text"], "alice's secret");
    assert_eq!(
        alice.call_tool("notes_get", json!({"id": id})).await["structuredContent"]["id"],
        id.as_str()
    );

    let theirs = bob.call_tool("notes_list", json!({})).await;
    assert_eq!(
        theirs["structuredContent"]["notes"],
        json!([]),
        "bob sees none of alice's notes"
    );
    let get = bob.call_tool("notes_get", json!({"id": id})).await;
    assert_eq!(get["isError"], true, "{get}");
    assert!(!get.to_string().contains("secret"), "{get}");
    let delete = bob.call_tool("notes_delete", json!({"id": id})).await;
    assert_eq!(delete["isError"], true, "{delete}");

    let still = alice.call_tool("notes_get", json!({"id": id})).await;
    assert_eq!(
        still["structuredContent"]["text"], "alice's secret",
        "bob's delete changed nothing"
    );
    let deleted = alice.call_tool("notes_delete", json!({"id": id})).await;
    assert_eq!(deleted["isError"], false, "{deleted}");
    assert_eq!(
        alice.call_tool("notes_list", json!({})).await["structuredContent"]["notes"],
        json!([])
    );
}

async fn too_long_note_is_a_tool_error(store: Store) {
    let s = Session::new(Harness::new(store), ALL_SCOPES).await;
    let max = catalog::notes::MAX_CHARS;
    let result = s.call_tool("notes_add", json!({"text": "é".repeat(max + 1)})).await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(text(&result).contains(&max.to_string()), "{result}");
    assert_eq!(
        s.call_tool("notes_list", json!({})).await["structuredContent"]["notes"],
        json!([])
    );
    let fits = s.call_tool("notes_add", json!({"text": "é".repeat(max)})).await;
    assert_eq!(fits["isError"], false, "{max} characters fit");
}

async fn unknown_note_id_is_a_tool_error(store: Store) {
    let s = Session::new(Harness::new(store), ALL_SCOPES).await;
    for tool in ["notes_get", "notes_delete"] {
        let result = s.call_tool(tool, json!({"id": "no-such-note"})).await;
        assert_eq!(result["isError"], true, "{tool}: {result}");
        assert!(text(&result).contains("no-such-note"), "{tool}: {result}");
    }
}

async fn notes_list_pages_with_next_cursor(store: Store) {
    let s = Session::new(Harness::new(store), ALL_SCOPES).await;
    let page = catalog::notes::PAGE;
    let total = 2 * page + 5;
    for i in 0..total {
        let added = s.call_tool("notes_add", json!({"text": format!("note {i}")})).await;
        assert_eq!(added["isError"], false, "{added}");
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let args = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let result = s.call_tool("notes_list", args).await;
        assert_eq!(result["isError"], false, "{result}");
        let notes = result["structuredContent"]["notes"].as_array().unwrap().clone();
        assert!(notes.len() <= page, "a page holds at most {page} notes");
        seen.extend(notes.iter().map(|n| n["text"].as_str().unwrap().to_owned()));
        pages += 1;
        match result["structuredContent"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages <= total, "the cursor must move forward");
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..total).map(|i| format!("note {i}")).collect();
    let mut sorted = seen.clone();
    sorted.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(sorted, want, "every note exactly once");

    // 2025-11-25: arguments the tool refuses are a tool error; up to 2025-06-18, -32602.
    let bad = s.call_tool("notes_list", json!({"cursor": "not a cursor!"})).await;
    assert_eq!(bad["isError"], true, "{bad}");
    assert!(text(&bad).contains("cursor"), "{bad}");
    let old = s
        .legacy_as(
            "2025-06-18",
            "tools/call",
            json!({"name": "notes_list", "arguments": {"cursor": "bm8tY29sb24"}}),
        )
        .await;
    assert_eq!(old.json()["error"]["code"], -32602, "{}", old.text());
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _, _dir) = crate::common::embedded();
                    super::$name(store).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _, ()) = crate::common::dynamo().await;
                    super::$name(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    whoami_returns_the_signed_up_email,
    notes_are_private_to_their_user,
    too_long_note_is_a_tool_error,
    unknown_note_id_is_a_tool_error,
    notes_list_pages_with_next_cursor,
);

#[tokio::test]
async fn tools_list_hides_tools_whose_scopes_the_token_lacks() {
    let (store, _, _dir) = common::embedded();
    let h = Harness::new(store);
    let full = Session::new(h.clone(), ALL_SCOPES).await;
    let names = tool_names(&full.legacy("tools/list", json!({})).await.json());
    assert!(names.contains(&"whoami".to_owned()), "{names:?}");
    assert!(names.contains(&"notes_add".to_owned()), "{names:?}");

    let narrow = Session::new(h, "mcp:tools:read mcp:tools:execute").await;
    for reply in [
        narrow.legacy("tools/list", json!({})).await,
        narrow.modern("tools/list", json!({})).await,
    ] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let names = tool_names(&reply.json());
        assert!(
            !names.contains(&"whoami".to_owned()),
            "whoami needs profile:read: {names:?}"
        );
        assert!(names.contains(&"notes_list".to_owned()), "{names:?}");
    }
}

#[tokio::test]
async fn listed_tools_carry_their_schema_and_annotations() {
    let (store, _, _dir) = common::embedded();
    let s = Session::new(Harness::new(store), ALL_SCOPES).await;
    let list = s.legacy("tools/list", json!({})).await.json();
    let add = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "notes_add")
        .unwrap()
        .clone();
    assert_eq!(add["inputSchema"]["type"], "object");
    assert!(add["inputSchema"]["properties"]["text"].is_object(), "{add}");
    assert_eq!(add["annotations"]["readOnlyHint"], false);
    assert!(add["description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(add["title"], "Add a note");
}
