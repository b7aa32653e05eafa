//! The tool API: how a tool is written, and what the MCP router holds of one.
//!
//! A tool is a type implementing [`Tool`]: its name, description, the scopes it needs beyond
//! `mcp:tools:execute` with their consent wording (`scopes::ScopeInfo`), an argument type whose
//! JSON Schema is derived with `schemars`, and one `async fn call`. The type may hold state (an
//! HTTP client, configuration) built once per cold start, when the catalog is assembled. The
//! catalog (`mcp::catalog`) holds each as an `Arc<dyn DynTool>` through the blanket adapter
//! below, and everything about scopes is derived from it (docs/ARCHITECTURE.md, "Tools and the
//! catalog").
//!
//! ```ignore
//! struct Echo;
//! impl Tool for Echo {
//!     type Args = EchoArgs;               // Deserialize + JsonSchema
//!     const NAME: &'static str = "echo";
//!     const DESCRIPTION: &'static str = "Says it back.";
//!     async fn call(&self, _cx: ToolContext, args: EchoArgs) -> ToolResult {
//!         Ok(ToolOutput::text(args.text))
//!     }
//! }
//! ```
//!
//! A tool reaches the caller's own data through `cx.data` (already scoped to the caller: see
//! `mcp::data`), reports progress and log messages through `cx.notify` (see `mcp::notify`; a
//! tool that logs sets [`Tool::LOGS`], so the server declares the `logging` capability), and asks
//! the client for input — a form, a sampling, its roots — by answering
//! `Err(ToolError::NeedsInput(..))` and reading the answers from `cx.input` when the client
//! retries (see `mcp::input`).
//!
//! [`RawTool`] is the untyped form, for tools whose schema is written by hand.
//!
//! Not for: the MCP protocol (see `mcp::protocol`), authentication (see `mcp::auth`), or which
//! tools a deployment serves (see `mcp::catalog`).

use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::mcp::input::InputRequired;
use crate::scopes::ScopeInfo;

pub use crate::mcp::context::RequestContext;

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

/// A typed tool. Implement this; register it with `Catalog::tool` (see `mcp::catalog`).
pub trait Tool: Send + Sync + 'static {
    /// The arguments object; its JSON Schema is the tool's `inputSchema`.
    type Args: DeserializeOwned + schemars::JsonSchema + Send;
    const NAME: &'static str;
    /// A display name (from 2025-06-18); the name when empty.
    const TITLE: &'static str = "";
    const DESCRIPTION: &'static str;
    /// Scopes needed beyond `mcp:tools:execute`, with their consent wording. A scope named here
    /// is a scope of the server: both metadata documents list it and consent describes it.
    const SCOPES: &'static [ScopeInfo] = &[];
    /// The tool sends log messages (`notifications/message`), so the server declares `logging`.
    const LOGS: bool = false;

    /// MCP tool annotations (`readOnlyHint`, `destructiveHint`, …); none by default.
    fn annotations(&self) -> Value {
        serde_json::json!({})
    }

    /// Runs the tool for the caller `cx.principal` with decoded arguments.
    fn call(&self, cx: ToolContext, args: Self::Args) -> impl Future<Output = ToolResult> + Send;
}

/// What the catalog holds of a tool: the object-safe form of [`Tool`] (every `Tool` is one), or a
/// [`RawTool`].
pub trait DynTool: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn title(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn input_schema(&self) -> Value;
    fn scopes(&self) -> &'static [ScopeInfo];
    fn logs(&self) -> bool;
    fn annotations(&self) -> Value;
    /// Decodes `args` (absent reads as `{}`) and runs the tool.
    fn call_json<'a>(&'a self, cx: ToolContext, args: Value) -> Pin<Box<dyn Future<Output = ToolResult> + Send + 'a>>;
}

impl<T: Tool> DynTool for T {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn title(&self) -> &'static str {
        if T::TITLE.is_empty() { T::NAME } else { T::TITLE }
    }
    fn description(&self) -> &'static str {
        T::DESCRIPTION
    }
    fn input_schema(&self) -> Value {
        schema::<T::Args>()
    }
    fn scopes(&self) -> &'static [ScopeInfo] {
        T::SCOPES
    }
    fn logs(&self) -> bool {
        T::LOGS
    }
    fn annotations(&self) -> Value {
        Tool::annotations(self)
    }
    fn call_json<'a>(&'a self, cx: ToolContext, args: Value) -> Pin<Box<dyn Future<Output = ToolResult> + Send + 'a>> {
        Box::pin(async move {
            let args = arguments::<T::Args>(args)?;
            self.call(cx, args).await
        })
    }
}

/// An untyped tool: its schema by hand and a function of the raw arguments. For tools whose
/// schema no Rust type derives (the conformance fixtures' JSON Schema 2020-12 tool, say).
pub struct RawTool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// JSON Schema of the arguments object.
    pub input_schema: fn() -> Value,
    /// Scopes needed beyond `mcp:tools:execute`.
    pub scopes: &'static [ScopeInfo],
    /// Sends log messages (see [`Tool::LOGS`]).
    pub logs: bool,
    /// MCP tool annotations (`readOnlyHint`, `destructiveHint`, …).
    pub annotations: fn() -> Value,
    pub call: fn(ToolContext, Value) -> ToolFuture,
}

impl DynTool for RawTool {
    fn name(&self) -> &'static str {
        self.name
    }
    fn title(&self) -> &'static str {
        self.title
    }
    fn description(&self) -> &'static str {
        self.description
    }
    fn input_schema(&self) -> Value {
        (self.input_schema)()
    }
    fn scopes(&self) -> &'static [ScopeInfo] {
        self.scopes
    }
    fn logs(&self) -> bool {
        self.logs
    }
    fn annotations(&self) -> Value {
        (self.annotations)()
    }
    fn call_json<'a>(&'a self, cx: ToolContext, args: Value) -> Pin<Box<dyn Future<Output = ToolResult> + Send + 'a>> {
        (self.call)(cx, args)
    }
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
pub fn arguments<T: DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    let args = if args.is_null() { serde_json::json!({}) } else { args };
    serde_json::from_value(args).map_err(|e| ToolError::InvalidArguments(e.to_string()))
}
