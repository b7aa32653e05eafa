//! `resources/list`, `resources/templates/list`, `resources/read` (every revision), and
//! `resources/subscribe` / `resources/unsubscribe` (2025 revisions, for resources that never
//! change: see `mcp::catalog`).
//!
//! | case | answer | rule |
//! |---|---|---|
//! | unknown URI | -32002 with `data.uri` up to 2025-11-25; -32602 with `data.uri` from 2026-07-28 | server/resources "Error Handling" of each |
//! | read of a resource needing input | `InputRequiredResult` (2026-07-28); -32602 saying why before | basic/patterns/mrtr "Supported Requests" |
//! | read result | `ttlMs`/`cacheScope` from the resource's entry; `ttlMs: 0` for a retried request | server/utilities/caching |
//! | subscribe to a resource that can change | -32602: no stream to announce its updates on | server/resources "Subscriptions" |
//!
//! Not for: the resources themselves (see `mcp::resources`).

use serde_json::{Map, Value, json};

use super::super::Context;
use super::super::jsonrpc::RpcError;
use super::super::version::Revision;
use super::run::{self, prepare};
use super::{LIST_CACHE, Outcome, no_cursor, object, title, with_cache};
use crate::mcp::resources::{Cache, CacheScope, ResourceError};

/// `resources/list`: every fixed resource (templates are listed apart).
pub fn list(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let params = match object(params, "resources/list") {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if let Err(e) = no_cursor(params, "resources/list") {
        return e.into();
    }
    let resources: Vec<Value> = ctx
        .catalog
        .resources()
        .map(|r| {
            let mut entry = Map::new();
            entry.insert("uri".into(), r.uri.into());
            entry.insert("name".into(), r.name.into());
            title(&mut entry, revision, r.title);
            entry.insert("description".into(), r.description.into());
            entry.insert("mimeType".into(), r.mime_type.into());
            Value::Object(entry)
        })
        .collect();
    Outcome::result(with_cache(json!({ "resources": resources }), revision, LIST_CACHE))
}

/// `resources/templates/list`.
pub fn templates(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let params = match object(params, "resources/templates/list") {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if let Err(e) = no_cursor(params, "resources/templates/list") {
        return e.into();
    }
    let templates: Vec<Value> = ctx
        .catalog
        .templates()
        .map(|t| {
            let mut entry = Map::new();
            entry.insert("uriTemplate".into(), t.uri_template.into());
            entry.insert("name".into(), t.name.into());
            title(&mut entry, revision, t.title);
            entry.insert("description".into(), t.description.into());
            entry.insert("mimeType".into(), t.mime_type.into());
            Value::Object(entry)
        })
        .collect();
    Outcome::result(with_cache(
        json!({ "resourceTemplates": templates }),
        revision,
        LIST_CACHE,
    ))
}

/// `params.uri`, or -32602.
fn uri<'a>(params: Option<&'a Value>, method: &str) -> Result<(&'a Map<String, Value>, &'a str), RpcError> {
    let params =
        object(params, method)?.ok_or_else(|| RpcError::invalid_params(format!("{method} needs params.uri")))?;
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("{method} needs params.uri, a string")))?;
    Ok((params, uri))
}

/// `resources/read`.
pub async fn read(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let (params, uri) = match uri(params, "resources/read") {
        Ok(found) => found,
        Err(e) => return e.into(),
    };
    let modern = revision.is_modern();
    let Some(found) = ctx.catalog.find_resource(uri) else {
        return RpcError::resource_not_found(uri, modern).into();
    };
    let run = match prepare(ctx, revision, "resources/read", uri, &Value::Null, params).await {
        Ok(run) => run,
        Err(e) => return e.into(),
    };
    let (read, request, cache) = found.into_read();
    let what = format!("The resource {uri}");
    let result = match read(run.context.clone(), request).await {
        // An empty `contents` would read as "exists, but empty" (2026-07-28 forbids it for a
        // resource that does not exist); a handler that finds nothing says NotFound.
        Ok(output) => {
            // Results of a retry depend on inputs outside the cache key: never cacheable.
            let cache = if run.retried {
                Cache {
                    ttl_ms: 0,
                    scope: CacheScope::Private,
                }
            } else {
                cache
            };
            with_cache(json!({ "contents": output.contents }), revision, cache)
        }
        Err(ResourceError::NotFound) => return RpcError::resource_not_found(uri, modern).into(),
        Err(ResourceError::NeedsInput(required)) if modern => match run.input_required(required).await {
            Ok(result) => result,
            Err(e) => return e.into(),
        },
        Err(ResourceError::NeedsInput(required)) => {
            return RpcError::invalid_params(run::needs_newer_revision(&what, &required)).into();
        }
        Err(ResourceError::MissingClientCapabilities(caps)) if modern => {
            return RpcError::missing_client_capabilities(&caps).into();
        }
        Err(ResourceError::MissingClientCapabilities(caps)) => {
            return RpcError::invalid_params(run::needs_capabilities(&what, &caps)).into();
        }
        Err(ResourceError::Failed(why)) => return RpcError::internal(why).into(),
    };
    Outcome::Result {
        result,
        notifications: run.notifications(),
    }
}

/// `resources/subscribe` (2025 revisions): accepted for a resource that never changes, whose every
/// update (there are none) this server can therefore deliver without a stream.
pub fn subscribe(ctx: &Context, params: Option<&Value>) -> Outcome {
    let (_, uri) = match uri(params, "resources/subscribe") {
        Ok(found) => found,
        Err(e) => return e.into(),
    };
    match ctx.catalog.find_resource(uri) {
        None => RpcError::resource_not_found(uri, false).into(),
        Some(found) if found.changes() => RpcError::invalid_params(format!(
            "{uri} can change, and this server keeps no stream to announce updates on: read it again when you need it"
        ))
        .into(),
        Some(_) => Outcome::result(json!({})),
    }
}

/// `resources/unsubscribe` (2025 revisions): nothing is held for a subscription, so there is
/// nothing to release; an unknown URI is still an error.
pub fn unsubscribe(ctx: &Context, params: Option<&Value>) -> Outcome {
    let (_, uri) = match uri(params, "resources/unsubscribe") {
        Ok(found) => found,
        Err(e) => return e.into(),
    };
    match ctx.catalog.find_resource(uri) {
        None => RpcError::resource_not_found(uri, false).into(),
        Some(_) => Outcome::result(json!({})),
    }
}
