//! The prompt registry: message templates a user can pick in their client (a slash command, say),
//! filled in from string arguments.
//!
//! A developer adds a prompt as they add a tool: one async function building its messages and one
//! [`Prompt`] added to the deployment's catalog (`mcp::catalog`), with its arguments (each
//! optionally offering completion values for `completion/complete`).
//!
//! Not for: the `prompts/*` methods themselves (see `mcp::protocol::methods::prompts`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use crate::mcp::context::RequestContext;
use crate::mcp::input::InputRequired;

/// One argument a prompt takes.
pub struct PromptArgument {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// Values `completion/complete` suggests for this argument.
    pub completions: &'static [&'static str],
}

/// The arguments of one `prompts/get`, by name.
pub type PromptArgs = BTreeMap<String, String>;

/// A filled-in prompt: its messages, and optionally a description.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromptOutput {
    pub description: Option<String>,
    pub messages: Vec<Value>,
}

impl PromptOutput {
    /// Adds a message from `role` ("user" or "assistant") holding one content block.
    pub fn message(mut self, role: &str, content: Value) -> Self {
        self.messages.push(json!({"role": role, "content": content}));
        self
    }

    /// Adds a user message holding `text`.
    pub fn user_text(self, text: impl Into<String>) -> Self {
        self.message("user", json!({"type": "text", "text": text.into()}))
    }
}

/// A `prompts/get` that did not produce messages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    /// The arguments do not fit the prompt: -32602.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// Needs input from the client first (see `mcp::input`).
    #[error("the prompt needs input from the client")]
    NeedsInput(InputRequired),
    #[error("the prompt needs client capabilities: {}", .0.join(", "))]
    MissingClientCapabilities(Vec<&'static str>),
    /// Building the prompt failed (store down): -32603 Internal error.
    #[error("{0}")]
    Failed(String),
}

pub type PromptResult = Result<PromptOutput, PromptError>;
pub type PromptFuture = Pin<Box<dyn Future<Output = PromptResult> + Send>>;

/// One prompt.
pub struct Prompt {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [PromptArgument],
    pub get: fn(RequestContext, PromptArgs) -> PromptFuture,
}
