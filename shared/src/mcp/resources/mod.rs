//! The resource registry: data the MCP server lets clients read by URI, either one fixed URI per
//! [`Resource`] or a family of URIs per [`ResourceTemplate`] (RFC 6570 templates with simple
//! `{name}` variables, each matching one non-empty path segment).
//!
//! A developer adds a resource as they add a tool: one async read function and one [`Resource`]
//! (or [`ResourceTemplate`]) added to the deployment's catalog (`mcp::catalog`). The entry says how a client may cache what it reads (2026-07-28
//! `ttlMs` and `cacheScope`) and whether its content can change while the server runs: this
//! server keeps no stream to announce a change on, so only resources that never change accept a
//! `resources/subscribe`, and a subscription to one of them can never miss an update.
//!
//! Not for: the `resources/*` methods themselves (see `mcp::protocol::methods::resources`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use crate::mcp::context::RequestContext;
use crate::mcp::input::InputRequired;

/// Who may keep a read (2026-07-28 server/utilities/caching).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheScope {
    /// The same for every caller: any cache may share it.
    Public,
    /// Holds the caller's data: only caches for the same authorization context may keep it.
    Private,
}

impl CacheScope {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheScope::Public => "public",
            CacheScope::Private => "private",
        }
    }
}

/// How long and by whom a read may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cache {
    pub ttl_ms: u64,
    pub scope: CacheScope,
}

/// The URI being read, and for a template the values of its variables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadRequest {
    pub uri: String,
    pub variables: BTreeMap<String, String>,
}

/// What a read returns: one or more contents (text or base64 blob).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceOutput {
    pub contents: Vec<Value>,
}

impl ResourceOutput {
    /// One text content.
    pub fn text(uri: &str, mime_type: &str, text: impl Into<String>) -> Self {
        ResourceOutput {
            contents: vec![json!({"uri": uri, "mimeType": mime_type, "text": text.into()})],
        }
    }

    /// One binary content, `base64` already encoded (standard alphabet, as MCP wants).
    pub fn blob(uri: &str, mime_type: &str, base64: impl Into<String>) -> Self {
        ResourceOutput {
            contents: vec![json!({"uri": uri, "mimeType": mime_type, "blob": base64.into()})],
        }
    }
}

/// A read that did not produce contents.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResourceError {
    /// No such resource (a template matched the URI's shape, but nothing exists there).
    #[error("resource not found")]
    NotFound,
    /// Needs input from the client first (see `mcp::input`).
    #[error("the resource needs input from the client")]
    NeedsInput(InputRequired),
    #[error("the resource needs client capabilities: {}", .0.join(", "))]
    MissingClientCapabilities(Vec<&'static str>),
    /// The read failed (store down): -32603 Internal error.
    #[error("{0}")]
    Failed(String),
}

pub type ResourceResult = Result<ResourceOutput, ResourceError>;
pub type ResourceFuture = Pin<Box<dyn Future<Output = ResourceResult> + Send>>;
/// What reads a resource: the request context and which URI (with any template variables).
pub type ReadFn = fn(RequestContext, ReadRequest) -> ResourceFuture;

/// One resource at a fixed URI.
pub struct Resource {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub mime_type: &'static str,
    /// Whether the content can change while the server runs (user data, say).
    pub changes: bool,
    pub cache: Cache,
    pub read: ReadFn,
}

/// A family of resources whose URIs fill in a template's variables.
pub struct ResourceTemplate {
    pub uri_template: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub mime_type: &'static str,
    pub changes: bool,
    pub cache: Cache,
    /// Values `completion/complete` suggests for each variable.
    pub completions: &'static [(&'static str, &'static [&'static str])],
    pub read: ReadFn,
}

/// One piece of a URI template.
#[derive(Debug, PartialEq)]
enum Part<'a> {
    Literal(&'a str),
    Variable(&'a str),
}

fn parts(template: &str) -> Option<Vec<Part<'_>>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}')? + open;
        if open > 0 {
            out.push(Part::Literal(&rest[..open]));
        }
        let name = &rest[open + 1..close];
        // Only `{name}`: operators (`{+x}`, `{?q}`, ...) would need matching rules of their own.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        out.push(Part::Variable(name));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Part::Literal(rest));
    }
    Some(out)
}

/// The variables of `uri` under `template`, if it matches: each variable takes one non-empty run
/// of characters other than `/`, `?` and `#`, and literals must match exactly.
pub fn match_template(template: &str, uri: &str) -> Option<BTreeMap<String, String>> {
    let parts = parts(template)?;
    let mut variables = BTreeMap::new();
    let mut rest = uri;
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Literal(lit) => rest = rest.strip_prefix(lit)?,
            Part::Variable(name) => {
                let end = match parts.get(i + 1) {
                    Some(Part::Literal(next)) => rest.find(next)?,
                    _ => rest.len(),
                };
                let value = &rest[..end];
                if value.is_empty() || value.contains(['/', '?', '#']) {
                    return None;
                }
                variables.insert((*name).to_owned(), value.to_owned());
                rest = &rest[end..];
            }
        }
    }
    rest.is_empty().then_some(variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_variable() {
        let t = "test://template/{id}/data";
        let vars = match_template(t, "test://template/123/data").unwrap();
        assert_eq!(vars["id"], "123");
        assert_eq!(match_template(t, "test://template//data"), None);
        assert_eq!(match_template(t, "test://template/1/2/data"), None);
        assert_eq!(match_template(t, "test://template/1/data/x"), None);
        assert_eq!(match_template(t, "test://other/1/data"), None);
        let two = match_template("x://{a}/{b}", "x://one/two").unwrap();
        assert_eq!((two["a"].as_str(), two["b"].as_str()), ("one", "two"));
    }

    #[test]
    fn templates_with_operators_match_nothing() {
        assert_eq!(match_template("x://{+path}", "x://a"), None);
        assert_eq!(match_template("x://{a", "x://a"), None);
    }
}
