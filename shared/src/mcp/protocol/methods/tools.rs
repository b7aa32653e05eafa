//! `tools/list` and `tools/call` (server/tools, every revision).
//!
//! Not for: the tools themselves (see `mcp::tools` and `mcp::catalog`).

use serde_json::{Map, Value, json};

use super::super::Context;
use super::super::jsonrpc::RpcError;
use super::super::version::Revision;
use super::run::{self, prepare};
use super::{Outcome, TOOLS_TTL_MS, no_cursor, object, title};
use crate::mcp::resources::{Cache, CacheScope};
use crate::mcp::tools::{DynTool, ToolError, ToolOutput};
use crate::metrics::{self, Metric};

fn tool_entry(tool: &dyn DynTool, revision: Revision) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), tool.name().into());
    title(&mut entry, revision, tool.title());
    entry.insert("description".into(), tool.description().into());
    entry.insert("inputSchema".into(), tool.input_schema());
    let annotations = tool.annotations();
    if annotations.as_object().is_some_and(|a| !a.is_empty()) {
        entry.insert("annotations".into(), annotations);
    }
    Value::Object(entry)
}

/// `tools/list`: the tools whose scopes the caller holds, in catalog order (2026-07-28 asks for a
/// deterministic order). The list depends on the token, so only that caller may cache it
/// (`cacheScope: "private"`). No store call: the catalog is built at start.
pub fn list(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let params = match object(params, "tools/list") {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if let Err(e) = no_cursor(params, "tools/list") {
        return e.into();
    }
    let tools: Vec<Value> = ctx
        .catalog
        .visible_tools(&ctx.principal)
        .map(|t| tool_entry(t, revision))
        .collect();
    let cache = Cache {
        ttl_ms: TOOLS_TTL_MS,
        scope: CacheScope::Private,
    };
    Outcome::result(super::with_cache(json!({ "tools": tools }), revision, cache))
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
/// failure is a result with `isError: true`, which the model can read and act on. A tool that
/// needs input answers with an `InputRequiredResult` (2026-07-28); before that revision the call
/// cannot carry one, and the tool's result says so with `isError: true`.
pub async fn call(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
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
    let Some(tool) = ctx.catalog.find_tool(name) else {
        return RpcError::invalid_params(format!("Unknown tool: {name}")).into();
    };
    let run = match prepare(ctx, revision, "tools/call", name, &arguments, params).await {
        Ok(run) => run,
        Err(e) => return e.into(),
    };
    let what = format!("The tool {name}");
    // Latency of the tool's own code (store calls included), per tool: the catalog bounds the
    // dimension's values.
    let started = std::time::Instant::now();
    let called = tool.call_json(run.context.clone(), arguments).await;
    let dims = [("Tool", tool.name())];
    metrics::duration(Metric::ToolLatency, started.elapsed().as_secs_f64() * 1000.0, &dims);
    let failure = match &called {
        Err(ToolError::Failed(_)) => Some("failed"),
        Err(ToolError::InvalidArguments(_)) => Some("invalid_arguments"),
        _ => None,
    };
    if let Some(kind) = failure {
        metrics::count_with(Metric::ToolErrors, &[("Tool", tool.name()), ("Kind", kind)]);
    }
    let result = match called {
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
        Err(ToolError::NeedsInput(required)) if revision.is_modern() => match run.input_required(required).await {
            Ok(result) => result,
            Err(e) => return e.into(),
        },
        Err(ToolError::NeedsInput(required)) => call_result(
            ToolOutput::text(run::needs_newer_revision(&what, &required)),
            true,
            revision,
        ),
        Err(ToolError::MissingClientCapabilities(caps)) if revision.is_modern() => {
            return RpcError::missing_client_capabilities(&caps).into();
        }
        Err(ToolError::MissingClientCapabilities(caps)) => {
            call_result(ToolOutput::text(run::needs_capabilities(&what, &caps)), true, revision)
        }
    };
    tracing::debug!(event = "mcp_tool_called", tool = name, user_id = %ctx.principal.user_id);
    Outcome::Result {
        result,
        notifications: run.notifications(),
    }
}
