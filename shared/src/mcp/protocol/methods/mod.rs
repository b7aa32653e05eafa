//! The methods this server implements, each shaped for the revision it is answered under:
//! `initialize` and `ping` (2025-03-26 to 2025-11-25), `server/discover` (2026-07-28), and
//! `tools/list` and `tools/call` (all revisions), plus the scopes each method needs.
//!
//! Not for: framing, headers or version selection (see the parent module).

use serde_json::{Map, Value, json};

use super::Context;
use super::jsonrpc::RpcError;
use super::version::Revision;
use crate::mcp::auth::{self, Challenge};
use crate::mcp::tools::{self, Tool, ToolContext, ToolError, ToolOutput};
use crate::scopes::{TOOLS_EXECUTE, TOOLS_READ};

/// How long a client may reuse a `tools/list` answer (2026-07-28 `ttlMs`). The list changes only
/// with a deployment, so a few minutes of staleness costs nothing.
pub const TOOLS_TTL_MS: u64 = 5 * 60 * 1000;
/// How long a client may reuse a `server/discover` answer.
pub const DISCOVER_TTL_MS: u64 = 60 * 60 * 1000;

/// What a method answered.
pub enum Outcome {
    /// A result, and the notifications that must reach the client before it (none yet: the
    /// mechanism is here for tools that report progress).
    Result {
        result: Value,
        notifications: Vec<Value>,
    },
    Error(RpcError),
    /// The token lacks a scope: HTTP 403 with the step-up challenge, not a JSON-RPC error.
    Denied(Challenge),
}

impl Outcome {
    fn result(result: Value) -> Self {
        Outcome::Result {
            result,
            notifications: Vec::new(),
        }
    }
}

impl From<RpcError> for Outcome {
    fn from(e: RpcError) -> Self {
        Outcome::Error(e)
    }
}

/// The server's identity and what it tells clients about itself.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// A display name (from 2025-06-18).
    pub title: String,
    pub instructions: &'static str,
}

impl ServerInfo {
    /// This build, with the deployment's display name.
    pub fn new(title: impl Into<String>) -> Self {
        ServerInfo {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            title: title.into(),
            instructions: "Tools that act for the signed-in user: notes_* keep private notes (only this user \
                           sees them); whoami tells who the user is. Call notes_list to find a note's id.",
        }
    }

    /// The `Implementation` object for `revision`.
    pub fn implementation(&self, revision: Revision) -> Value {
        let mut info = json!({"name": self.name, "version": self.version});
        if revision.has_titles_and_structured_content() {
            info["title"] = self.title.clone().into();
        }
        info
    }
}

/// What the server offers. Tools only; the list changes only with a deployment.
fn capabilities() -> Value {
    json!({"tools": {"listChanged": false}})
}

/// The scopes a request needs beyond a valid token (DESIGN decision 7): `mcp:tools:read` lists
/// tools; `mcp:tools:execute` and the tool's own scopes run one. Everything else (`initialize`,
/// `ping`, `server/discover`, unknown methods) needs only the token.
pub fn authorize(principal: &tools::Principal, method: &str, params: Option<&Value>) -> Result<(), Challenge> {
    match method {
        "tools/list" => auth::require(principal, &[TOOLS_READ]),
        "tools/call" => {
            auth::require(principal, &[TOOLS_EXECUTE])?;
            match params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .and_then(tools::find)
            {
                Some(tool) => {
                    let needed: Vec<&str> = std::iter::once(TOOLS_EXECUTE)
                        .chain(tool.scopes.iter().copied())
                        .collect();
                    auth::require(principal, &needed)
                }
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// `initialize` (2025-03-26 to 2025-11-25 basic/lifecycle).
pub fn initialize(ctx: &Context, params: Option<&Value>) -> Outcome {
    let Some(requested) = params.and_then(|p| p.get("protocolVersion")).and_then(Value::as_str) else {
        return RpcError::invalid_params("initialize needs params.protocolVersion, a string").into();
    };
    let revision = Revision::negotiate(requested);
    Outcome::result(json!({
        "protocolVersion": revision.as_str(),
        "capabilities": capabilities(),
        "serverInfo": ctx.server.implementation(revision),
        "instructions": ctx.server.instructions,
    }))
}

/// `server/discover` (2026-07-28 server/discover). Nothing in it depends on the caller, so any
/// cache may share it (`cacheScope: "public"`).
pub fn discover(ctx: &Context) -> Outcome {
    Outcome::result(json!({
        "supportedVersions": Revision::supported(),
        "capabilities": capabilities(),
        "instructions": ctx.server.instructions,
        "ttlMs": DISCOVER_TTL_MS,
        "cacheScope": "public",
    }))
}

/// `params` as an object, or -32602.
fn object<'a>(params: Option<&'a Value>, method: &str) -> Result<Option<&'a Map<String, Value>>, RpcError> {
    match params {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(RpcError::invalid_params(format!("{method} params must be an object"))),
    }
}

fn tool_entry(tool: &Tool, revision: Revision) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), tool.name.into());
    if revision.has_titles_and_structured_content() {
        entry.insert("title".into(), tool.title.into());
    }
    entry.insert("description".into(), tool.description.into());
    entry.insert("inputSchema".into(), (tool.input_schema)());
    let annotations = (tool.annotations)();
    if annotations.as_object().is_some_and(|a| !a.is_empty()) {
        entry.insert("annotations".into(), annotations);
    }
    Value::Object(entry)
}

/// `tools/list`: the tools whose scopes the caller holds, in registry order (2026-07-28 asks for
/// a deterministic order). The list depends on the token, so only that caller may cache it
/// (`cacheScope: "private"`). No store call: the registry is static.
pub fn tools_list(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let params = match object(params, "tools/list") {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    // This server never hands out a cursor, so any cursor is an invalid one.
    if params.is_some_and(|p| p.get("cursor").is_some_and(|c| !c.is_null())) {
        return RpcError::invalid_params("invalid cursor: tools/list has a single page").into();
    }
    let tools: Vec<Value> = tools::visible(&ctx.principal)
        .map(|t| tool_entry(t, revision))
        .collect();
    let mut result = json!({ "tools": tools });
    if revision.is_modern() {
        result["ttlMs"] = TOOLS_TTL_MS.into();
        result["cacheScope"] = "private".into();
    }
    Outcome::result(result)
}

fn call_result(output: ToolOutput, is_error: bool, revision: Revision) -> Value {
    let mut result = json!({ "content": output.content, "isError": is_error });
    if let Some(structured) = output
        .structured
        .filter(|_| revision.has_titles_and_structured_content())
    {
        result["structuredContent"] = structured;
    }
    result
}

/// `tools/call`: an unknown tool or malformed params are protocol errors (-32602); a tool's own
/// failure is a result with `isError: true`, which the model can read and act on.
pub async fn tools_call(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let params = match object(params, "tools/call") {
        Ok(Some(p)) => p,
        Ok(None) => return RpcError::invalid_params("tools/call needs params with a tool name").into(),
        Err(e) => return e.into(),
    };
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return RpcError::invalid_params("tools/call needs params.name, a string").into();
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Value::Null,
        Some(args @ Value::Object(_)) => args.clone(),
        Some(_) => return RpcError::invalid_params("tools/call params.arguments must be an object").into(),
    };
    let Some(tool) = tools::find(name) else {
        return RpcError::invalid_params(format!("Unknown tool: {name}")).into();
    };
    let tool_ctx = ToolContext {
        principal: ctx.principal.clone(),
        store: ctx.store.clone(),
    };
    let result = match (tool.call)(tool_ctx, arguments).await {
        Ok(output) => call_result(output, false, revision),
        Err(ToolError::InvalidArguments(why)) if !revision.invalid_arguments_are_tool_errors() => {
            return RpcError::invalid_params(format!("Invalid arguments for tool {name}: {why}")).into();
        }
        Err(ToolError::InvalidArguments(why)) => call_result(
            ToolOutput::text(format!("Invalid arguments for tool {name}: {why}")),
            true,
            revision,
        ),
        Err(ToolError::Failed(why)) => call_result(ToolOutput::text(why), true, revision),
    };
    tracing::debug!(event = "mcp_tool_called", tool = name, user_id = %ctx.principal.user_id);
    Outcome::result(result)
}
