//! The `resource` parameter (RFC 8707): which protected resource a token is for.
//!
//! This server protects one resource, its MCP endpoint. A request without `resource` (clients of
//! MCP 2025-03-26 send none) gets that canonical URL; any other value, or one with a fragment,
//! is `invalid_target`, so no token is ever minted for an audience we do not serve.

use crate::urls::Urls;

/// The resource a request names, or the canonical MCP URL when it names none.
pub fn resolve(param: Option<&str>, urls: &Urls) -> Result<String, String> {
    let canonical = urls.mcp();
    match param {
        None => Ok(canonical),
        Some(r) if r.contains('#') => Err("resource must not contain a fragment".into()),
        Some(r) if r == canonical => Ok(canonical),
        Some(r) => Err(format!("unknown resource {r:?}; this server's resource is {canonical}")),
    }
}
