//! Shared by the MCP tests: access tokens from the real OAuth flow (sign-up, consent, token
//! endpoint), and `/mcp` requests shaped the way each protocol revision's clients send them.
#![allow(dead_code)]

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::common::Reply;
use crate::common::oauth::Harness;

pub const V2025_03_26: &str = "2025-03-26";
pub const LEGACY: &str = "2025-11-25";
pub const MODERN: &str = "2026-07-28";
pub const ALL_SCOPES: &str = "mcp:tools:read mcp:tools:execute profile:read";
pub const ACCEPT: &str = "application/json, text/event-stream";

/// A new user's access token for `scope`, obtained through the pages and the token endpoint.
pub async fn token_for(h: &Harness, email: &str, scope: &str) -> String {
    let client = h.public_client().await;
    let mut browser = h.browser();
    let params = h
        .sign_up_and_approve(&mut browser, &client, email, &[("scope", scope)])
        .await;
    let reply = h.redeem(&client, &params["code"]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

pub fn rpc(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The `_meta` every 2026-07-28 request carries.
pub fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "test-client", "version": "1.0.0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// `params` with the 2026-07-28 `_meta` added.
pub fn with_meta(mut params: Value) -> Value {
    params["_meta"] = meta();
    params
}

/// A POST to /mcp as an MCP client sends it, with `token` as bearer and `extra` headers.
pub fn post(token: Option<&str>, body: &Value, extra: &[(&str, &str)]) -> Request<Body> {
    post_raw(token, body.to_string(), extra)
}

pub fn post_raw(token: Option<&str>, body: impl Into<Body>, extra: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", ACCEPT);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.body(body.into()).expect("request")
}

/// A harness and one signed-up user's token.
pub struct Session {
    pub h: Harness,
    pub token: String,
    pub email: String,
}

impl Session {
    pub async fn new(h: Harness, scope: &str) -> Self {
        let email = format!("{}@example.com", mcp_oauth::crypto::random_id().to_lowercase());
        let token = token_for(&h, &email, scope).await;
        Session { h, token, email }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        self.h.call(req).await
    }

    /// A request under `version`, sent as clients of 2025-06-18 to 2025-11-25 send it.
    pub async fn legacy_as(&self, version: &str, method: &str, params: Value) -> Reply {
        self.send(post(
            Some(&self.token),
            &rpc(1, method, params),
            &[("mcp-protocol-version", version)],
        ))
        .await
    }

    pub async fn legacy(&self, method: &str, params: Value) -> Reply {
        self.legacy_as(LEGACY, method, params).await
    }

    /// A 2026-07-28 request: `_meta`, `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`.
    pub async fn modern(&self, method: &str, params: Value) -> Reply {
        let name = params.get("name").and_then(Value::as_str).map(str::to_owned);
        let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
        if let Some(name) = &name {
            headers.push(("mcp-name", name));
        }
        self.send(post(Some(&self.token), &rpc(1, method, with_meta(params)), &headers))
            .await
    }

    /// Calls a tool under 2025-11-25 and returns the JSON-RPC `result`.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Value {
        let reply = self
            .legacy("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        assert!(body.get("error").is_none(), "{name}: {body}");
        body["result"].clone()
    }
}

/// The text of a tool result's first content block.
pub fn text(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}
