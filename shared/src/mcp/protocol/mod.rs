//! The MCP protocol for one stateless POST: the JSON-RPC body in, the JSON-RPC answer out, under
//! the rules of the protocol revision the request is under.
//!
//! Not for: what HTTP does the same way in every revision — Origin, authentication, body size,
//! content types, SSE framing (see `endpoints::mcp`) — nor the tools themselves (`mcp::tools`).
//!
//! # Which revision rule each behaviour follows
//!
//! | behaviour | answer | rule |
//! |---|---|---|
//! | revision of a request | its `MCP-Protocol-Version`; without one, 2025-03-26 | 2025-06-18/2025-11-25 transports ("SHOULD assume 2025-03-26"), 2026-07-28 transports ("MAY treat … as 2025-03-26") |
//! | unsupported version header | 400, `UnsupportedProtocolVersionError` -32022 with `supported` and `requested` | 2026-07-28 basic/versioning; earlier transports require the 400 and leave the body open |
//! | `_meta` names a version, no header | 400 `HeaderMismatch` -32020 | 2026-07-28 transports (the header is required) |
//! | header and `_meta` versions differ | 400 `HeaderMismatch` -32020 | 2026-07-28 transports, "Protocol Version Header" |
//! | `_meta` lacks `protocolVersion` or `clientCapabilities` | 400, -32602 | 2026-07-28 basic/index, "Per-request protocol fields" |
//! | `Mcp-Method` / `Mcp-Name` missing or unlike the body | 400 `HeaderMismatch` -32020 | 2026-07-28 transports, "Server Validation" |
//! | JSON-RPC batch | served under 2025-03-26; 400, -32600 under later revisions | 2025-03-26 basic/index ("MUST support receiving JSON-RPC batches"); 2025-06-18 changelog (batching removed) |
//! | batch of more than [`MAX_BATCH`] messages | 400, -32600, nothing run | ours: a bound on the work one POST can ask for |
//! | answers past [`MAX_RESPONSE`] bytes | the request that would pass it, and every later one in the batch, is not run and gets -32603 | ours: a bound on the memory one POST can take |
//! | request id | echoed exactly (big integers digit for digit); a fraction or exponent is -32600 | JSON-RPC 2.0 "Request object", MCP `RequestId` (see `jsonrpc`) |
//! | duplicate member name anywhere in the body | 400, -32600 without an id | ours: JSON leaves it undefined (RFC 8259 §4), see `jsonrpc` |
//! | `initialize` inside a batch | -32600 for that element | 2025-03-26 basic/lifecycle |
//! | `initialize` version | the version asked for if supported, else 2025-11-25 (the latest with a handshake) | basic/lifecycle "Version Negotiation"; 2026-07-28 basic/versioning (`initialize` selects the legacy era) |
//! | `initialize`, `ping` under 2026-07-28 | 404, -32601 (`initialize`'s error lists the supported versions) | 2026-07-28 changelog (both removed), basic/versioning |
//! | unknown method | -32601: HTTP 404 under 2026-07-28, an ordinary JSON-RPC error (200) before | 2026-07-28 transports |
//! | notification, or a response from the client | 202, empty body; a response under 2026-07-28 is 400, -32600 | every transports page; 2026-07-28 "MUST NOT send JSON-RPC responses" |
//! | result fields | `resultType: "complete"` and `_meta` server identity under 2026-07-28 only | 2026-07-28 basic/index |
//! | caching hints | `ttlMs` and `cacheScope` on complete results of `server/discover`, `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list` and `resources/read` under 2026-07-28 | 2026-07-28 server/utilities/caching |
//! | `logging/setLevel`, `resources/subscribe`, `resources/unsubscribe` under 2026-07-28 | 404, -32601 | 2026-07-28 changelog (removed with sessions) |
//! | `logging/setLevel` | `{}` for a known level (a sessionless server cannot keep it: see `mcp::notify`), -32602 otherwise; served only when `logging` is offered | 2025-11-25 server/utilities/logging |
//! | log messages | at or above the request's `_meta` log level under 2026-07-28, none without one; `info` and above before | 2026-07-28 and 2025-11-25 server/utilities/logging |
//! | progress | `notifications/progress` with the request's `progressToken`, in the SSE body before the result | basic/utilities/progress |
//! | unknown resource | -32002 before 2026-07-28, -32602 from it, `data.uri` in both | server/resources "Error Handling" |
//! | a handler needs input (elicitation, sampling, roots) | `InputRequiredResult` with sealed `requestState` under 2026-07-28; before, a tool result with `isError: true` (tools) or -32602 saying why | 2026-07-28 basic/patterns/mrtr |
//! | tampered, foreign or expired `requestState`; `inputResponses` not an object of objects | -32602 | 2026-07-28 basic/patterns/mrtr "Server Requirements", "Error Handling" |
//! | an input request or handler needs an undeclared client capability | 400, `MissingRequiredClientCapabilityError` -32021 | 2026-07-28 basic/index, basic/patterns/mrtr |
//! | `title`, `structuredContent` | from 2025-06-18 | 2025-06-18 changelog |
//! | unknown tool, malformed `tools/call` params | -32602 | server/tools "Error Handling" (every revision) |
//! | tool arguments the tool refuses | -32602 up to 2025-06-18; an `isError` result from 2025-11-25 | server/tools "Error Handling"; 2025-11-25 changelog (SEP-1303) |
//! | a tool's own failure | a result with `isError: true` | server/tools "Error Handling" |
//! | not JSON / not a JSON-RPC message | 400, -32700 / -32600, without an `id` when none could be read | JSON-RPC 2.0; MCP `JSONRPCErrorResponse` (`id?`) |
//! | missing scope | HTTP 403 with the step-up challenge, before anything runs (a whole batch included) | basic/authorization "Scope Challenge Handling" |
//!
//! # Why this is not built on `rmcp`
//!
//! The official Rust SDK's server runtime (`ServerHandler` served over its Streamable HTTP
//! service) is a long-lived, session-shaped service: it runs the `initialize` handshake as
//! connection state and answers through per-session channels, which a buffered, stateless Lambda
//! invocation has no use for. What this endpoint must get right lies around the messages rather
//! than in them: the HTTP status each error gets per revision, checking headers against the raw
//! body, whether a batch is allowed, and answering -32700, -32600 and -32602 with the right id.
//! A typed decode collapses those cases into one deserialization error, and the result shapes
//! differ per revision (`resultType`, `ttlMs`, `cacheScope` and `title` come and go), so typed
//! results would be converted from the registry's JSON and then trimmed again. Small serde_json
//! helpers keep each rule visible where the table above points, and keep the SDK's dependency tree
//! out of the Lambda's cold start.

pub mod headers;
pub mod jsonrpc;
pub mod meta;
pub mod methods;
pub mod version;

use std::sync::Arc;

use http::StatusCode;
use serde_json::Value;

pub use headers::McpHeaders;
pub use jsonrpc::RpcError;
pub use methods::{Outcome, ServerInfo};
pub use version::Revision;

use crate::keys::KeyRing;
use crate::mcp::auth::Challenge;
use crate::mcp::catalog::Catalog;
use crate::store::Store;
use crate::tokens::principal::Principal;

/// Who is asking and what the server is: everything a method needs besides its params.
pub struct Context {
    pub principal: Principal,
    pub store: Store,
    pub server: ServerInfo,
    /// The tools, resources and prompts this deployment serves.
    pub catalog: Arc<Catalog>,
    /// Signing keys, from which the `requestState` seal is derived (see `mcp::input`).
    pub keys: KeyRing,
}

/// Most messages in one batch. 2025-03-26 clients batch a handful of requests at most; at 32 a
/// batch still cannot multiply one body into more work than a few dozen single calls.
pub const MAX_BATCH: usize = 32;
/// Most bytes of answers (notifications included) one POST gets. The MCP function has 128 MB;
/// 4 MiB of text, plus the values it was rendered from, stays far inside it while holding any
/// one tool's page of results (a `notes_list` page is at most ~110 KB).
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// The answer to one POST body.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 202 Accepted with no body: the body held only notifications or responses.
    Accepted,
    /// JSON-RPC to send back: `notifications` first, then `body`, the JSON text of a response or
    /// of a batch of them (text, so that ids are kept exactly: see `jsonrpc`).
    Messages {
        status: StatusCode,
        notifications: Vec<Value>,
        body: String,
    },
    /// A scope is missing: HTTP 403 with the step-up challenge.
    Denied(Challenge),
}

impl Answer {
    fn error(id: Option<&jsonrpc::Id>, error: RpcError) -> Self {
        Answer::Messages {
            status: error.status,
            notifications: Vec::new(),
            body: jsonrpc::error_response(id, &error),
        }
    }
}

/// The answer to a request whose answers would pass [`MAX_RESPONSE`].
fn too_large() -> RpcError {
    RpcError::internal(format!(
        "the answers to this request would exceed {MAX_RESPONSE} bytes; send fewer requests per batch, \
         or page through lists with their cursor"
    ))
    .with_data(serde_json::json!({ "limit": MAX_RESPONSE }))
}

/// The size of the notifications as sent.
fn size_of(notifications: &[Value]) -> usize {
    notifications.iter().map(|n| n.to_string().len()).sum()
}

/// Answers one POST body.
pub async fn handle(ctx: &Context, headers: &McpHeaders, body: &[u8]) -> Answer {
    let body = match jsonrpc::parse(body) {
        Ok(b) => b,
        Err(e) => return Answer::error(None, e),
    };
    match body {
        jsonrpc::Body::Batch(batch) => {
            let revision = match version::of_request(headers.version(), &Value::Null) {
                Ok(r) => r,
                Err(e) => return Answer::error(None, e),
            };
            handle_batch(ctx, headers, revision, batch).await
        }
        jsonrpc::Body::Single(single) => {
            let revision = match version::of_request(headers.version(), &single.rest) {
                Ok(r) => r,
                Err(e) => return Answer::error(single.readable_id(), e),
            };
            handle_single(ctx, headers, revision, single).await
        }
    }
}

async fn handle_single(ctx: &Context, headers: &McpHeaders, revision: Revision, message: jsonrpc::Incoming) -> Answer {
    match jsonrpc::classify(message) {
        Err(invalid) => Answer::error(invalid.id.as_ref(), invalid.error),
        Ok(jsonrpc::Message::Response) if revision.is_modern() => Answer::error(
            None,
            RpcError::invalid_request("a client must not send JSON-RPC responses under 2026-07-28"),
        ),
        Ok(jsonrpc::Message::Response | jsonrpc::Message::Notification { .. }) => Answer::Accepted,
        Ok(jsonrpc::Message::Request { id, method, params }) => {
            match request(ctx, headers, revision, &method, params.as_ref(), false).await {
                Outcome::Result { result, notifications } => {
                    let body = jsonrpc::result_response(&id, &result);
                    if body.len() + size_of(&notifications) > MAX_RESPONSE {
                        return Answer::error(Some(&id), too_large());
                    }
                    Answer::Messages {
                        status: StatusCode::OK,
                        notifications,
                        body,
                    }
                }
                Outcome::Error(e) => Answer::error(Some(&id), e),
                Outcome::Denied(challenge) => Answer::Denied(challenge),
            }
        }
    }
}

async fn handle_batch(
    ctx: &Context,
    headers: &McpHeaders,
    revision: Revision,
    batch: Vec<jsonrpc::Incoming>,
) -> Answer {
    if !revision.accepts_batches() {
        return Answer::error(
            None,
            RpcError::invalid_request(format!(
                "JSON-RPC batches are not accepted under protocol version {} (batching ended with 2025-03-26)",
                revision.as_str()
            )),
        );
    }
    if batch.is_empty() {
        return Answer::error(None, RpcError::invalid_request("an empty batch"));
    }
    if batch.len() > MAX_BATCH {
        return Answer::error(
            None,
            RpcError::invalid_request(format!(
                "a batch of {} messages; at most {MAX_BATCH} are accepted",
                batch.len()
            )),
        );
    }
    let messages: Vec<Result<jsonrpc::Message, jsonrpc::Invalid>> = batch.into_iter().map(jsonrpc::classify).collect();
    // All or nothing: a batch that asks for a scope the token lacks runs none of its requests.
    for message in &messages {
        if let Ok(jsonrpc::Message::Request { method, params, .. }) = message
            && let Err(challenge) = methods::authorize(&ctx.catalog, &ctx.principal, method, params.as_ref())
        {
            return Answer::Denied(challenge);
        }
    }
    let mut answers = Answers::within(MAX_RESPONSE);
    for message in messages {
        match message {
            Err(invalid) => answers.push(jsonrpc::error_response(invalid.id.as_ref(), &invalid.error)),
            Ok(jsonrpc::Message::Response | jsonrpc::Message::Notification { .. }) => {}
            // Past the limit nothing more runs: a batch cannot pile up work it cannot be answered.
            Ok(jsonrpc::Message::Request { id, .. }) if answers.full() => {
                answers.push(jsonrpc::error_response(Some(&id), &too_large()));
            }
            Ok(jsonrpc::Message::Request { id, method, params }) => {
                match request(ctx, headers, revision, &method, params.as_ref(), true).await {
                    Outcome::Result { result, notifications } => answers.result(&id, &result, notifications),
                    Outcome::Error(e) => answers.push(jsonrpc::error_response(Some(&id), &e)),
                    Outcome::Denied(challenge) => return Answer::Denied(challenge),
                }
            }
        }
    }
    answers.into_answer()
}

/// A batch's answers as they are collected, within a limit on their total size.
struct Answers {
    limit: usize,
    size: usize,
    full: bool,
    notifications: Vec<Value>,
    responses: Vec<String>,
}

impl Answers {
    fn within(limit: usize) -> Self {
        Answers {
            limit,
            size: 0,
            full: false,
            notifications: Vec::new(),
            responses: Vec::new(),
        }
    }

    /// True once a result did not fit.
    fn full(&self) -> bool {
        self.full
    }

    fn push(&mut self, response: String) {
        self.size += response.len();
        self.responses.push(response);
    }

    /// A result with the notifications sent before it, or the too-large error in its place when
    /// both do not fit.
    fn result(&mut self, id: &jsonrpc::Id, result: &Value, notifications: Vec<Value>) {
        let response = jsonrpc::result_response(id, result);
        if self.size + response.len() + size_of(&notifications) > self.limit {
            self.full = true;
            self.push(jsonrpc::error_response(Some(id), &too_large()));
        } else {
            self.size += size_of(&notifications);
            self.notifications.extend(notifications);
            self.push(response);
        }
    }

    fn into_answer(self) -> Answer {
        if self.responses.is_empty() {
            return Answer::Accepted;
        }
        Answer::Messages {
            status: StatusCode::OK,
            notifications: self.notifications,
            body: format!("[{}]", self.responses.join(",")),
        }
    }
}

/// One request: the revision's checks, then the scope check, then the method.
async fn request(
    ctx: &Context,
    headers: &McpHeaders,
    revision: Revision,
    method: &str,
    params: Option<&Value>,
    in_batch: bool,
) -> Outcome {
    if revision.is_modern() {
        if let Err(e) = headers
            .check(method, params)
            .and_then(|()| meta::check(params, revision.as_str()))
        {
            return e.into();
        }
    } else if let Some(named) = meta::version(params)
        && named != revision.as_str()
    {
        return RpcError::header_mismatch(format!(
            "MCP-Protocol-Version header value '{}' does not match _meta value '{named}'",
            revision.as_str()
        ))
        .into();
    }
    if let Err(challenge) = methods::authorize(&ctx.catalog, &ctx.principal, method, params) {
        return Outcome::Denied(challenge);
    }
    let modern = revision.is_modern();
    let outcome = match method {
        "initialize" if modern => {
            let e = RpcError::method_not_found(method, true);
            return e
                .with_data(serde_json::json!({"supported": Revision::supported()}))
                .into();
        }
        "initialize" if in_batch => {
            return RpcError::invalid_request("initialize must not be part of a JSON-RPC batch").into();
        }
        "initialize" => methods::initialize(ctx, params),
        "ping" if !modern => Outcome::Result {
            result: serde_json::json!({}),
            notifications: Vec::new(),
        },
        "server/discover" if modern => methods::discover(ctx),
        "tools/list" => methods::tools::list(ctx, revision, params),
        "tools/call" => methods::tools::call(ctx, revision, params).await,
        "resources/list" => methods::resources::list(ctx, revision, params),
        "resources/templates/list" => methods::resources::templates(ctx, revision, params),
        "resources/read" => methods::resources::read(ctx, revision, params).await,
        "resources/subscribe" if methods::subscribable(&ctx.catalog, revision) => {
            methods::resources::subscribe(ctx, params)
        }
        "resources/unsubscribe" if methods::subscribable(&ctx.catalog, revision) => {
            methods::resources::unsubscribe(ctx, params)
        }
        "prompts/list" => methods::prompts::list(ctx, revision, params),
        "prompts/get" => methods::prompts::get(ctx, revision, params).await,
        "completion/complete" => methods::completion::complete(ctx, params),
        "logging/setLevel" if !modern && ctx.catalog.logs() => methods::logging::set_level(params),
        _ => return RpcError::method_not_found(method, modern).into(),
    };
    match outcome {
        Outcome::Result { result, notifications } if modern => Outcome::Result {
            result: meta::complete(result, ctx.server.implementation(revision)),
            notifications,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> jsonrpc::Id {
        jsonrpc::Id::Integer(n.to_string())
    }

    #[test]
    fn answers_past_the_limit_become_errors_and_the_rest_is_not_run() {
        let big = Value::String("x".repeat(100));
        let mut answers = Answers::within(350);
        answers.result(&id(1), &big, Vec::new());
        assert!(!answers.full());
        answers.result(
            &id(2),
            &big,
            vec![serde_json::json!({"method": "notifications/message"})],
        );
        assert!(!answers.full(), "two results and a notification fit in 350 bytes");
        answers.result(&id(3), &big, Vec::new());
        assert!(answers.full(), "the third does not");
        let Answer::Messages {
            body, notifications, ..
        } = answers.into_answer()
        else {
            panic!("messages expected");
        };
        assert_eq!(notifications.len(), 1);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body[0]["result"], big);
        assert_eq!(body[1]["result"], big);
        assert_eq!(body[2]["id"], 3);
        assert_eq!(body[2]["error"]["code"], jsonrpc::INTERNAL_ERROR);
        assert_eq!(body[2]["error"]["data"]["limit"], MAX_RESPONSE);
    }
}
