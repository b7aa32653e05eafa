//! The scopes this server knows, with the words the consent screen uses for each.
//!
//! `offline_access` is the authorization server's: it asks for a refresh token (MCP 2026-07-28)
//! and is never a scope of the MCP resource, so protected resource metadata and
//! `WWW-Authenticate` challenges never list it.

pub const TOOLS_READ: &str = "mcp:tools:read";
pub const TOOLS_EXECUTE: &str = "mcp:tools:execute";
pub const PROFILE_READ: &str = "profile:read";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A scope of the MCP resource and what granting it lets a client do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScopeInfo {
    pub name: &'static str,
    pub description: &'static str,
}

/// Scopes of the MCP resource, in the order the consent screen lists them.
pub const RESOURCE_SCOPES: &[ScopeInfo] = &[
    ScopeInfo { name: TOOLS_READ, description: "See the list of tools this server offers" },
    ScopeInfo { name: TOOLS_EXECUTE, description: "Run tools on your behalf" },
    ScopeInfo { name: PROFILE_READ, description: "Read your profile: your user id and email address" },
];

/// What `scopes_supported` lists in the protected resource metadata.
pub fn resource_scopes() -> Vec<&'static str> {
    RESOURCE_SCOPES.iter().map(|s| s.name).collect()
}

/// What `scopes_supported` lists in the authorization server metadata.
pub fn server_scopes() -> Vec<&'static str> {
    let mut all = resource_scopes();
    all.push(OFFLINE_ACCESS);
    all
}
