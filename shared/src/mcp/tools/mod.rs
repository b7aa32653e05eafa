//! The tool registry: every tool the MCP server offers, with the scopes it needs.
//!
//! A developer adds a tool by writing one async function and one [`Tool`] entry in [`registry`]:
//! its name, description, input type (whose JSON Schema is derived with `schemars`), and the
//! scopes it requires beyond `mcp:tools:execute`. The registry is the one place scopes come from
//! (docs/ARCHITECTURE.md, decision 7): `scopes_supported` in both metadata documents, the consent screen's
//! wording, `tools/list` filtering and the 403 step-up challenge all read it.
//!
//! A tool can report progress and log messages through `ctx.notify` (see `mcp::notify`), and ask
//! the client for input — a form, a sampling, its roots — by answering
//! `Err(ToolError::NeedsInput(..))` and reading the answers from `ctx.input` when the client
//! retries (see `mcp::input`).
//!
//! Not for: the MCP protocol (see `mcp::protocol`), authentication (see `mcp::auth`), or which
//! registries a deployment serves (see `mcp::catalog`).

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::mcp::input::InputRequired;

pub use crate::mcp::context::RequestContext;

/// Who is calling: the validated access token's subject, client and scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The `kid` of the key that signed the access token (it also seals `requestState`).
    pub key_id: String,
    /// A machine client acting for itself (`client_credentials`): `user_id` is then
    /// `client:<client_id>` (`tokens::access::machine_subject`) and no user record exists, so
    /// tools keep its data under that id and never read a user for it.
    pub machine: bool,
}

impl Principal {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What a tool handler receives besides its arguments.
pub type ToolContext = RequestContext;

/// A tool's successful answer: MCP content blocks, and optionally structured content.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub content: Vec<Value>,
    pub structured: Option<Value>,
}

impl ToolOutput {
    /// One text block.
    pub fn text(text: impl Into<String>) -> Self {
        ToolOutput {
            content: vec![serde_json::json!({"type": "text", "text": text.into()})],
            structured: None,
        }
    }

    /// Structured content, with its JSON text as the text block (for clients that read only text).
    pub fn json(value: Value) -> Self {
        ToolOutput {
            content: vec![serde_json::json!({"type": "text", "text": value.to_string()})],
            structured: Some(value),
        }
    }
}

/// A tool call that did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's input schema: a JSON-RPC -32602 error.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The tool ran and failed (unknown note, note too long, store down): a result with
    /// `isError: true`, which the model can read and act on.
    #[error("{0}")]
    Failed(String),
    /// The tool needs input from the client first: an `InputRequiredResult` under 2026-07-28; a
    /// result with `isError: true` explaining why under earlier revisions, which cannot carry it.
    #[error("the tool needs input from the client")]
    NeedsInput(InputRequired),
    /// The tool needs client capabilities the request did not declare:
    /// `MissingRequiredClientCapabilityError` (-32021) under 2026-07-28.
    #[error("the tool needs client capabilities: {}", .0.join(", "))]
    MissingClientCapabilities(Vec<&'static str>),
}

pub type ToolResult = Result<ToolOutput, ToolError>;
pub type ToolFuture = Pin<Box<dyn Future<Output = ToolResult> + Send>>;

/// One tool.
pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// JSON Schema of the arguments object.
    pub input_schema: fn() -> Value,
    /// Scopes needed beyond `mcp:tools:execute`.
    pub scopes: &'static [&'static str],
    /// MCP tool annotations (`readOnlyHint`, `destructiveHint`, …).
    pub annotations: fn() -> Value,
    pub call: fn(ToolContext, Value) -> ToolFuture,
}

pub mod notes;
pub mod whoami;

/// Every tool this server offers. Add yours here. (What a deployment serves, and who may see
/// which tool, is `mcp::catalog`'s.)
pub fn registry() -> &'static [Tool] {
    static TOOLS: std::sync::LazyLock<Vec<Tool>> = std::sync::LazyLock::new(|| {
        vec![
            whoami::tool(),
            notes::list_tool(),
            notes::get_tool(),
            notes::add_tool(),
            notes::delete_tool(),
        ]
    });
    &TOOLS
}

/// Every scope some tool declares, in registry order, without repeats.
pub fn declared_scopes() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for scope in registry().iter().flat_map(|t| t.scopes.iter()) {
        if !out.contains(scope) {
            out.push(scope);
        }
    }
    out
}

/// The JSON Schema of a tool's argument type.
pub fn schema<T: schemars::JsonSchema>() -> Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(T)).unwrap_or_else(|_| serde_json::json!({"type": "object"}));
    if let Some(map) = schema.as_object_mut() {
        // MCP wants a plain object schema; the draft marker and title add nothing for clients.
        map.remove("$schema");
        map.remove("title");
        map.entry("properties").or_insert_with(|| serde_json::json!({}));
    }
    schema
}

/// Decodes a tool's arguments (absent arguments read as `{}`).
pub fn arguments<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    let args = if args.is_null() { serde_json::json!({}) } else { args };
    serde_json::from_value(args).map_err(|e| ToolError::InvalidArguments(e.to_string()))
}
