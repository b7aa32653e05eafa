//! The methods this server implements, each shaped for the revision it is answered under, and the
//! scopes each needs:
//! - `initialize` and `ping` (2025-03-26 to 2025-11-25), `server/discover` (2026-07-28);
//! - `tools/*` ([`tools`]), `resources/*` ([`resources`]), `prompts/*` ([`prompts`]),
//!   `completion/complete` ([`completion`]) and `logging/setLevel` ([`logging`]);
//! - what the handlers of `tools/call`, `prompts/get` and `resources/read` share ([`run`]): their
//!   notifications, and multi round-trip input.
//!
//! Not for: framing, headers or version selection (see the parent module).

pub mod completion;
pub mod logging;
pub mod prompts;
pub mod resources;
pub mod run;
pub mod tools;

use serde_json::{Map, Value, json};

use super::Context;
use super::jsonrpc::RpcError;
use super::version::Revision;
use crate::mcp::auth::{self, Challenge};
use crate::mcp::catalog::Catalog;
use crate::mcp::resources::{Cache, CacheScope};
use crate::scopes::{TOOLS_EXECUTE, TOOLS_READ};
use crate::tokens::principal::Principal;

/// How long a client may reuse a `tools/list` answer (2026-07-28 `ttlMs`). The list changes only
/// with a deployment, so a few minutes of staleness costs nothing.
pub const TOOLS_TTL_MS: u64 = 5 * 60 * 1000;
/// How long a client may reuse a `server/discover` answer.
pub const DISCOVER_TTL_MS: u64 = 60 * 60 * 1000;
/// `prompts/list`, `resources/list` and `resources/templates/list`: static registries, the same
/// for every caller.
pub const LIST_CACHE: Cache = Cache {
    ttl_ms: 5 * 60 * 1000,
    scope: CacheScope::Public,
};

/// What a method answered.
pub enum Outcome {
    /// A result, and the notifications that must reach the client before it (progress and log
    /// messages a handler sent while it ran).
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

impl From<Result<Value, RpcError>> for Outcome {
    fn from(r: Result<Value, RpcError>) -> Self {
        match r {
            Ok(result) => Outcome::result(result),
            Err(e) => Outcome::Error(e),
        }
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
    /// This build, with the deployment's display name and the catalog's instructions.
    pub fn new(title: impl Into<String>, instructions: &'static str) -> Self {
        ServerInfo {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            title: title.into(),
            instructions,
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

/// The scopes a request needs beyond a valid token (docs/ARCHITECTURE.md, decision 7): `mcp:tools:read` lists
/// tools; `mcp:tools:execute` and the tool's own scopes run one. Everything else (`initialize`,
/// `ping`, `server/discover`, resources, prompts, completion, logging, unknown methods) needs only
/// the token.
pub fn authorize(
    catalog: &Catalog,
    principal: &Principal,
    method: &str,
    params: Option<&Value>,
) -> Result<(), Challenge> {
    match method {
        "tools/list" => auth::require(catalog.scopes(), principal, &[TOOLS_READ]),
        "tools/call" => {
            auth::require(catalog.scopes(), principal, &[TOOLS_EXECUTE])?;
            match params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .and_then(|name| catalog.find_tool(name))
            {
                Some(tool) => {
                    let needed: Vec<&str> = std::iter::once(TOOLS_EXECUTE)
                        .chain(tool.scopes().iter().map(|s| s.name))
                        .collect();
                    auth::require(catalog.scopes(), principal, &needed)
                }
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Whether `resources/subscribe` can be honoured under `revision`: under 2025 revisions only
/// (2026-07-28 moved subscriptions to `subscriptions/listen`, which needs a held-open stream), and
/// only when some resource never changes — the only kind a server without a stream can honour a
/// subscription for.
pub fn subscribable(catalog: &Catalog, revision: Revision) -> bool {
    !revision.is_modern() && catalog.has_unchanging_resources()
}

/// The `capabilities` object for `initialize` and `server/discover`. Capabilities name only what
/// is there: `tools`, `resources`, `prompts` and `completions` always, since their methods always
/// answer (lists may be empty), and never with `listChanged`, since the catalog changes only with
/// a deployment; `resources.subscribe` when [`subscribable`]; `logging` only when some tool of
/// the catalog says it logs.
pub fn capabilities(catalog: &Catalog, revision: Revision) -> Value {
    let mut resources = json!({});
    if subscribable(catalog, revision) {
        resources["subscribe"] = true.into();
    }
    let mut caps = json!({
        "tools": {"listChanged": false},
        "resources": resources,
        "prompts": {},
        "completions": {},
    });
    if catalog.logs() {
        caps["logging"] = json!({});
    }
    caps
}

/// `initialize` (2025-03-26 to 2025-11-25 basic/lifecycle).
pub fn initialize(ctx: &Context, params: Option<&Value>) -> Outcome {
    let Some(requested) = params.and_then(|p| p.get("protocolVersion")).and_then(Value::as_str) else {
        return RpcError::invalid_params("initialize needs params.protocolVersion, a string").into();
    };
    let revision = Revision::negotiate(requested);
    Outcome::result(json!({
        "protocolVersion": revision.as_str(),
        "capabilities": capabilities(&ctx.catalog, revision),
        "serverInfo": ctx.server.implementation(revision),
        "instructions": ctx.server.instructions,
    }))
}

/// `server/discover` (2026-07-28 server/discover). Nothing in it depends on the caller, so any
/// cache may share it (`cacheScope: "public"`).
pub fn discover(ctx: &Context) -> Outcome {
    Outcome::result(json!({
        "supportedVersions": Revision::supported(),
        "capabilities": capabilities(&ctx.catalog, Revision::V2026_07_28),
        "instructions": ctx.server.instructions,
        "ttlMs": DISCOVER_TTL_MS,
        "cacheScope": "public",
    }))
}

/// `params` as an object, or -32602.
pub(crate) fn object<'a>(params: Option<&'a Value>, method: &str) -> Result<Option<&'a Map<String, Value>>, RpcError> {
    match params {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(RpcError::invalid_params(format!("{method} params must be an object"))),
    }
}

/// -32602 for a cursor: this server never hands one out, so every cursor is an invalid one.
pub(crate) fn no_cursor(params: Option<&Map<String, Value>>, method: &str) -> Result<(), RpcError> {
    if params.is_some_and(|p| p.get("cursor").is_some_and(|c| !c.is_null())) {
        return Err(RpcError::invalid_params(format!(
            "invalid cursor: {method} has a single page"
        )));
    }
    Ok(())
}

/// Adds 2026-07-28 caching hints to a complete result (server/utilities/caching: cacheable
/// operations "MUST include caching hints"); earlier revisions have no such fields.
pub(crate) fn with_cache(mut result: Value, revision: Revision, cache: Cache) -> Value {
    if revision.is_modern() {
        result["ttlMs"] = cache.ttl_ms.into();
        result["cacheScope"] = cache.scope.as_str().into();
    }
    result
}

/// Adds a display `title` to a list entry under revisions that have them (2025-06-18 on).
pub(crate) fn title(entry: &mut Map<String, Value>, revision: Revision, title: &str) {
    if revision.has_titles_and_structured_content() {
        entry.insert("title".into(), title.into());
    }
}
