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

/// True for a scope this server can grant.
pub fn is_known(scope: &str) -> bool {
    scope == OFFLINE_ACCESS || RESOURCE_SCOPES.iter().any(|s| s.name == scope)
}

/// The scopes granted when a request names none: every scope of the resource.
pub fn default_scopes() -> Vec<String> {
    resource_scopes().into_iter().map(str::to_owned).collect()
}

/// Parses a space-separated `scope` parameter into a sorted, de-duplicated list; `None` or blank
/// gives the defaults. An unknown scope is an error naming it.
pub fn parse(param: Option<&str>) -> Result<Vec<String>, String> {
    let Some(raw) = param.filter(|s| !s.trim().is_empty()) else {
        return Ok(default_scopes());
    };
    let mut out: Vec<String> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !is_known(s) {
            return Err(format!("unknown scope {s:?}"));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    // Resource scopes in their declared order, offline_access last: a stable form to compare.
    out.sort_by_key(|s| RESOURCE_SCOPES.iter().position(|r| r.name == s).unwrap_or(usize::MAX));
    Ok(out)
}

/// The plain-language descriptions of the resource scopes in `granted`, for the consent screen.
pub fn describe(granted: &[String]) -> Vec<ScopeInfo> {
    RESOURCE_SCOPES.iter().filter(|s| granted.iter().any(|g| g == s.name)).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_scope_means_the_defaults() {
        assert_eq!(parse(None).unwrap(), default_scopes());
        assert_eq!(parse(Some("  ")).unwrap(), default_scopes());
    }

    #[test]
    fn unknown_scope_is_named_in_the_error() {
        assert!(parse(Some("mcp:tools:read admin")).unwrap_err().contains("admin"));
    }

    #[test]
    fn scopes_are_deduplicated_and_ordered() {
        assert_eq!(
            parse(Some("offline_access profile:read mcp:tools:read profile:read")).unwrap(),
            ["mcp:tools:read", "profile:read", "offline_access"]
        );
    }

    #[test]
    fn offline_access_is_a_server_scope_not_a_resource_scope() {
        assert!(server_scopes().contains(&OFFLINE_ACCESS));
        assert!(!resource_scopes().contains(&OFFLINE_ACCESS));
    }
}
