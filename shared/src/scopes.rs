//! The scopes this server knows, with the words the consent screen uses for each.
//!
//! The resource's scopes are the two every MCP server has (listing and running tools) plus every
//! scope a tool declares in the registry (`crate::mcp::tools`), so the metadata documents, the
//! consent screen, `tools/list` filtering and the step-up challenge can never disagree
//! (docs/ARCHITECTURE.md, decision 7). A tool's scope needs a description here; a test checks that it has one.
//!
//! `offline_access` is the authorization server's: it asks for a refresh token (MCP 2026-07-28)
//! and is never a scope of the MCP resource, so protected resource metadata and
//! `WWW-Authenticate` challenges never list it.

pub const TOOLS_READ: &str = "mcp:tools:read";
pub const TOOLS_EXECUTE: &str = "mcp:tools:execute";
pub const PROFILE_READ: &str = "profile:read";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Scopes only a user can consent to, because they read a user's own data: a `client_credentials`
/// token (a machine acting for itself) never carries them unless the operator allows it
/// (`MACHINE_SCOPES_ALLOWED`; see `crate::endpoints::token`).
pub const USER_ONLY: &[&str] = &[PROFILE_READ];

/// A scope of the MCP resource and what granting it lets a client do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScopeInfo {
    pub name: &'static str,
    pub description: &'static str,
}

/// Plain-language descriptions of the scopes the consent screen can show, in its order. Add a
/// line here when a tool declares a new scope.
pub const RESOURCE_SCOPES: &[ScopeInfo] = &[
    ScopeInfo {
        name: TOOLS_READ,
        description: "See the list of tools this server offers",
    },
    ScopeInfo {
        name: TOOLS_EXECUTE,
        description: "Run tools on your behalf",
    },
    ScopeInfo {
        name: PROFILE_READ,
        description: "Read your profile: your user id and email address",
    },
];

/// The description of `scope`, if it has one.
pub fn info(scope: &str) -> Option<ScopeInfo> {
    RESOURCE_SCOPES.iter().find(|s| s.name == scope).copied()
}

/// What `scopes_supported` lists in the protected resource metadata: the two tool scopes, then
/// every scope the tool registry declares.
pub fn resource_scopes() -> Vec<&'static str> {
    let mut all = vec![TOOLS_READ, TOOLS_EXECUTE];
    for scope in crate::mcp::tools::declared_scopes() {
        if !all.contains(&scope) {
            all.push(scope);
        }
    }
    all
}

/// What `scopes_supported` lists in the authorization server metadata.
pub fn server_scopes() -> Vec<&'static str> {
    let mut all = resource_scopes();
    all.push(OFFLINE_ACCESS);
    all
}

/// True for a scope this server can grant.
pub fn is_known(scope: &str) -> bool {
    scope == OFFLINE_ACCESS || resource_scopes().contains(&scope)
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
    let order = resource_scopes();
    out.sort_by_key(|s| order.iter().position(|r| r == s).unwrap_or(usize::MAX));
    Ok(out)
}

/// The plain-language descriptions of the resource scopes in `granted`, for the consent screen.
pub fn describe(granted: &[String]) -> Vec<ScopeInfo> {
    resource_scopes()
        .into_iter()
        .filter(|s| granted.iter().any(|g| g == s))
        .map(|s| {
            info(s).unwrap_or(ScopeInfo {
                name: s,
                description: s,
            })
        })
        .collect()
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
    fn every_scope_a_tool_declares_has_a_consent_description() {
        for scope in resource_scopes() {
            assert!(
                info(scope).is_some(),
                "scope {scope} has no description in RESOURCE_SCOPES"
            );
        }
    }

    #[test]
    fn the_registry_drives_the_resource_scopes() {
        for scope in crate::mcp::tools::declared_scopes() {
            assert!(resource_scopes().contains(&scope));
        }
        assert!(
            resource_scopes().contains(&PROFILE_READ),
            "whoami declares profile:read"
        );
    }

    #[test]
    fn offline_access_is_a_server_scope_not_a_resource_scope() {
        assert!(server_scopes().contains(&OFFLINE_ACCESS));
        assert!(!resource_scopes().contains(&OFFLINE_ACCESS));
    }
}
