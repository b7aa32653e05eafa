//! What `tools/call`, `prompts/get` and `resources/read` share around their handler:
//! - the handler's [`RequestContext`]: a notifier for the request's `progressToken` and log level,
//!   and its multi round-trip [`Input`] (2026-07-28: `inputResponses` validated, `requestState`
//!   unsealed, the client's declared capabilities);
//! - turning a handler's request for input into an `InputRequiredResult`, or into the error its
//!   revision calls for.
//!
//! Not for: what any one method returns (see its module).

use serde_json::{Map, Value, json};

use super::super::Context;
use super::super::jsonrpc::RpcError;
use super::super::meta;
use super::super::version::Revision;
use crate::mcp::context::RequestContext;
use crate::mcp::input::{Input, InputRequired, Seal, StateError};
use crate::mcp::notify::{LogLevel, Notifier};

/// A handler about to run: its context, and the seal its `requestState` is bound with.
pub struct Run<'a> {
    pub context: RequestContext,
    /// Whether the request is a multi round-trip retry (it brought answers or state back); such
    /// results are never cacheable (2026-07-28 server/utilities/caching).
    pub retried: bool,
    seal: Seal<'a>,
}

impl From<StateError> for RpcError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Unavailable => RpcError::internal(e.to_string()),
            _ => RpcError::invalid_params(e.to_string()),
        }
    }
}

/// The `progressToken` a request's `_meta` carries (a string or an integer), if any.
fn progress_token(params: &Map<String, Value>) -> Option<Value> {
    params
        .get("_meta")?
        .get("progressToken")
        .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
        .cloned()
}

/// The least severe log level a request receives (see `mcp::notify`).
fn log_level(ctx: &Context, revision: Revision, params: &Map<String, Value>) -> Result<Option<LogLevel>, RpcError> {
    if !ctx.catalog.logs() {
        return Ok(None);
    }
    if !revision.is_modern() {
        return Ok(Some(LogLevel::SESSIONLESS_DEFAULT));
    }
    match params.get("_meta").and_then(|m| m.get(meta::LOG_LEVEL)) {
        None => Ok(None),
        Some(level) => level.as_str().and_then(LogLevel::parse).map(Some).ok_or_else(|| {
            RpcError::invalid_params(format!(
                "{} must be one of debug, info, notice, warning, error, critical, alert, emergency",
                meta::LOG_LEVEL
            ))
        }),
    }
}

/// `inputResponses`: absent, or an object whose every value is an object (some client result).
fn input_responses(params: &Map<String, Value>) -> Result<Map<String, Value>, RpcError> {
    match params.get("inputResponses") {
        None => Ok(Map::new()),
        Some(Value::Object(map)) if map.values().all(Value::is_object) => Ok(map.clone()),
        Some(_) => Err(RpcError::invalid_params(
            "inputResponses must be an object mapping each input request's key to the client's result object",
        )),
    }
}

/// Prepares the handler of `method` on `target` (a tool or prompt name, a resource URI) called
/// with `arguments`.
pub async fn prepare<'a>(
    ctx: &'a Context,
    revision: Revision,
    method: &str,
    target: &str,
    arguments: &Value,
    params: &Map<String, Value>,
) -> Result<Run<'a>, RpcError> {
    let notify = Notifier::new(progress_token(params), log_level(ctx, revision, params)?);
    let seal = Seal::new(&ctx.keys, &ctx.principal, method, target, arguments);
    let (input, retried) = if revision.is_modern() {
        let capabilities = params
            .get("_meta")
            .and_then(|m| m.get(meta::CLIENT_CAPABILITIES))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let responses = input_responses(params)?;
        let state = match params.get("requestState") {
            None => None,
            Some(Value::String(sealed)) => Some(seal.open(sealed).await.inspect_err(|e| {
                tracing::info!(event = "mcp_request_state_refused", reason = %e, method, user_id = %ctx.principal.user_id);
            })?),
            Some(_) => return Err(RpcError::invalid_params("requestState must be the string the server sent")),
        };
        let retried = !responses.is_empty() || state.is_some();
        (Input::new(capabilities, responses, state), retried)
    } else {
        // Before 2026-07-28 there are no multi round-trip requests; such fields mean nothing.
        (Input::unavailable(), false)
    };
    Ok(Run {
        context: RequestContext::new(ctx.principal.clone(), ctx.store.clone(), notify, input),
        retried,
        seal,
    })
}

/// Why a handler's request for input cannot be served under `revision` (before 2026-07-28), for
/// the client and the model to read.
pub fn needs_newer_revision(what: &str, required: &InputRequired) -> String {
    let methods: Vec<&str> = required.requests.iter().map(|(_, r)| r.method()).collect();
    format!(
        "{what} needs input from the client ({}), and this server, which keeps no sessions, can ask for it \
         only under MCP protocol version 2026-07-28 (multi round-trip requests)",
        if methods.is_empty() {
            "a retry".to_owned()
        } else {
            methods.join(", ")
        }
    )
}

/// Why a handler cannot run without client capabilities the request did not declare, before
/// 2026-07-28 (which has an error code for it).
pub fn needs_capabilities(what: &str, capabilities: &[&str]) -> String {
    format!(
        "{what} needs the client capability {}, which this server can only learn from a request under MCP \
         protocol version 2026-07-28",
        capabilities.join(", ")
    )
}

impl Run<'_> {
    /// The `InputRequiredResult` for `required` (2026-07-28 only): every request's capability must
    /// have been declared (else -32021), and the state is sealed to this caller and request.
    pub async fn input_required(&self, required: InputRequired) -> Result<Value, RpcError> {
        let missing = required.missing_capabilities(&self.context.input);
        if !missing.is_empty() {
            return Err(RpcError::missing_client_capabilities(&missing));
        }
        // "Servers MUST include at least one of inputRequests or requestState."
        if required.requests.is_empty() && required.state.is_none() {
            return Err(RpcError::internal("the handler asked for input without saying what"));
        }
        let mut result = json!({"resultType": "input_required"});
        if !required.requests.is_empty() {
            let requests: Map<String, Value> = required
                .requests
                .iter()
                .map(|(key, request)| (key.clone(), request.to_json()))
                .collect();
            result["inputRequests"] = Value::Object(requests);
        }
        if let Some(state) = &required.state {
            result["requestState"] = self.seal.seal(state).await?.into();
        }
        Ok(result)
    }

    /// The notifications the handler sent, in order.
    pub fn notifications(&self) -> Vec<Value> {
        self.context.notify.take()
    }
}
