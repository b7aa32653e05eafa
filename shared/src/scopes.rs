//! The scopes this server knows, with the words the consent screen uses for each.
//!
//! The resource's scopes are the two every MCP server has (listing and running tools) plus every
//! scope a tool of the deployment's catalog declares beside itself (`mcp::catalog`, built by the
//! fork-owned `catalog` crate). [`Scopes`] is that list as a value, derived once from the catalog
//! and kept in the application state, so the metadata documents, the consent screen, `tools/list`
//! filtering and the step-up challenge can never disagree (docs/ARCHITECTURE.md, decision 7).
//!
//! `offline_access` is the authorization server's: it asks for a refresh token (MCP 2026-07-28)
//! and is never a scope of the MCP resource, so protected resource metadata and
//! `WWW-Authenticate` challenges never list it.

pub const TOOLS_READ: &str = "mcp:tools:read";
pub const TOOLS_EXECUTE: &str = "mcp:tools:execute";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A scope of the MCP resource and what granting it lets a client do: a tool declares the scopes
/// it needs as these, so its consent wording lives beside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScopeInfo {
    pub name: &'static str,
    /// What the consent screen says granting it lets the client do.
    pub description: &'static str,
    /// Only a user can consent to it, because it reads a user's own data: a `client_credentials`
    /// token (a machine acting for itself) never carries it unless the operator allows it
    /// (`MACHINE_SCOPES_ALLOWED`; see `crate::token_endpoint`).
    pub user_only: bool,
}

impl ScopeInfo {
    /// A scope any client, machine clients included, may be granted.
    pub const fn new(name: &'static str, description: &'static str) -> Self {
        ScopeInfo {
            name,
            description,
            user_only: false,
        }
    }

    /// A scope only a user can consent to (see [`ScopeInfo::user_only`]).
    pub const fn user_only(name: &'static str, description: &'static str) -> Self {
        ScopeInfo {
            name,
            description,
            user_only: true,
        }
    }
}

/// The two scopes every MCP server has, in the consent screen's order.
pub const BUILT_IN: &[ScopeInfo] = &[
    ScopeInfo::new(TOOLS_READ, "See the list of tools this server offers"),
    ScopeInfo::new(TOOLS_EXECUTE, "Run tools on your behalf"),
];

/// The resource's scopes: the built-in two, then every scope the catalog's tools declare, in
/// catalog order, without repeats (the first declaration's wording wins).
#[derive(Debug, Clone, PartialEq)]
pub struct Scopes {
    resource: Vec<ScopeInfo>,
}

impl Default for Scopes {
    fn default() -> Self {
        Scopes::new(std::iter::empty())
    }
}

impl Scopes {
    /// The built-in scopes followed by `declared`.
    pub fn new(declared: impl IntoIterator<Item = ScopeInfo>) -> Self {
        let mut resource: Vec<ScopeInfo> = BUILT_IN.to_vec();
        for scope in declared {
            if !resource.iter().any(|s| s.name == scope.name) {
                resource.push(scope);
            }
        }
        Scopes { resource }
    }

    /// Every resource scope with its description, in the consent screen's order.
    pub fn all(&self) -> &[ScopeInfo] {
        &self.resource
    }

    /// The description of `scope`, if it is a resource scope.
    pub fn info(&self, scope: &str) -> Option<ScopeInfo> {
        self.resource.iter().find(|s| s.name == scope).copied()
    }

    /// Whether only a user may consent to `scope` (see [`ScopeInfo::user_only`]).
    pub fn is_user_only(&self, scope: &str) -> bool {
        self.info(scope).is_some_and(|s| s.user_only)
    }

    /// What `scopes_supported` lists in the protected resource metadata.
    pub fn resource_scopes(&self) -> Vec<&'static str> {
        self.resource.iter().map(|s| s.name).collect()
    }

    /// What `scopes_supported` lists in the authorization server metadata.
    pub fn server_scopes(&self) -> Vec<&'static str> {
        let mut all = self.resource_scopes();
        all.push(OFFLINE_ACCESS);
        all
    }

    /// True for a scope this server can grant.
    pub fn is_known(&self, scope: &str) -> bool {
        scope == OFFLINE_ACCESS || self.info(scope).is_some()
    }

    /// The scopes granted when a request names none: every scope of the resource.
    pub fn default_scopes(&self) -> Vec<String> {
        self.resource_scopes().into_iter().map(str::to_owned).collect()
    }

    /// Parses a space-separated `scope` parameter into a sorted, de-duplicated list; `None` or
    /// blank gives the defaults. An unknown scope is an error naming it.
    pub fn parse(&self, param: Option<&str>) -> Result<Vec<String>, String> {
        let Some(raw) = param.filter(|s| !s.trim().is_empty()) else {
            return Ok(self.default_scopes());
        };
        let mut out: Vec<String> = Vec::new();
        for s in raw.split(' ').filter(|s| !s.is_empty()) {
            if !self.is_known(s) {
                return Err(format!("unknown scope {s:?}"));
            }
            if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        // Resource scopes in their declared order, offline_access last: a stable form to compare.
        out.sort_by_key(|s| self.resource.iter().position(|r| r.name == s).unwrap_or(usize::MAX));
        Ok(out)
    }

    /// The plain-language descriptions of the resource scopes in `granted`, for the consent
    /// screen.
    pub fn describe(&self, granted: &[String]) -> Vec<ScopeInfo> {
        self.resource
            .iter()
            .filter(|s| granted.iter().any(|g| g == s.name))
            .copied()
            .collect()
    }

    /// Checks `MACHINE_SCOPES_ALLOWED`: it may name only user-only scopes (the others are open to
    /// machine clients already); the error names the first that is not one.
    pub fn check_machine_allowed(&self, allowed: &[String]) -> Result<(), String> {
        match allowed.iter().find(|s| !self.is_user_only(s)) {
            Some(bad) => Err(format!(
                "MACHINE_SCOPES_ALLOWED must name user-only scopes ({}); the others are open to machine clients already, and {bad:?} is not one",
                self.resource
                    .iter()
                    .filter(|s| s.user_only)
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: ScopeInfo = ScopeInfo::user_only("profile:read", "Read your profile");

    fn scopes() -> Scopes {
        Scopes::new([PROFILE])
    }

    #[test]
    fn absent_scope_means_the_defaults() {
        let s = scopes();
        assert_eq!(s.parse(None).unwrap(), s.default_scopes());
        assert_eq!(s.parse(Some("  ")).unwrap(), s.default_scopes());
    }

    #[test]
    fn unknown_scope_is_named_in_the_error() {
        assert!(
            scopes()
                .parse(Some("mcp:tools:read admin"))
                .unwrap_err()
                .contains("admin")
        );
    }

    #[test]
    fn scopes_are_deduplicated_and_ordered() {
        assert_eq!(
            scopes()
                .parse(Some("offline_access profile:read mcp:tools:read profile:read"))
                .unwrap(),
            ["mcp:tools:read", "profile:read", "offline_access"]
        );
    }

    #[test]
    fn declared_scopes_follow_the_built_in_ones_once() {
        let s = Scopes::new([PROFILE, ScopeInfo::new("profile:read", "again")]);
        assert_eq!(s.resource_scopes(), [TOOLS_READ, TOOLS_EXECUTE, "profile:read"]);
        assert_eq!(s.info("profile:read"), Some(PROFILE), "the first wording wins");
    }

    #[test]
    fn offline_access_is_a_server_scope_not_a_resource_scope() {
        let s = scopes();
        assert!(s.server_scopes().contains(&OFFLINE_ACCESS));
        assert!(!s.resource_scopes().contains(&OFFLINE_ACCESS));
    }

    #[test]
    fn machine_allowance_names_only_user_only_scopes() {
        let s = scopes();
        assert!(s.check_machine_allowed(&["profile:read".into()]).is_ok());
        assert!(
            s.check_machine_allowed(&[TOOLS_READ.into()])
                .unwrap_err()
                .contains(TOOLS_READ)
        );
    }
}
