//! The public URLs of this deployment: issuer, MCP resource, endpoints.
//!
//! They come from `PUBLIC_URL`. In Lambda without it, API Gateway's `requestContext.domainName`
//! stands in: API Gateway sets it, so a client cannot forge it. The `Host` header never does.
//! (The extractor that picks between the two is beside the state it reads, in `app`.)

use crate::env::base_str;

#[derive(Debug, Clone, PartialEq)]
pub struct Urls {
    base: String,
}

pub const MCP_PATH: &str = "/mcp";
pub const PRM_PATH: &str = "/.well-known/oauth-protected-resource";
pub const AS_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const TOKEN_PATH: &str = "/api/oauth/token";
pub const REGISTER_PATH: &str = "/api/oauth/register";
pub const REVOKE_PATH: &str = "/api/oauth/revoke";
pub const INTROSPECT_PATH: &str = "/api/oauth/introspect";

impl Urls {
    pub fn new(base: &url::Url) -> Self {
        Urls { base: base_str(base) }
    }

    /// The OAuth issuer: the base URL itself.
    pub fn issuer(&self) -> &str {
        &self.base
    }
    /// The MCP endpoint, which is also the canonical resource identifier (RFC 8707).
    pub fn mcp(&self) -> String {
        format!("{}{MCP_PATH}", self.base)
    }
    /// Protected resource metadata for the MCP resource, at its path-specific location (RFC 9728 §3.1).
    pub fn prm(&self) -> String {
        format!("{}{PRM_PATH}{MCP_PATH}", self.base)
    }
    pub fn jwks(&self) -> String {
        format!("{}{JWKS_PATH}", self.base)
    }
    pub fn authorize(&self) -> String {
        format!("{}{AUTHORIZE_PATH}", self.base)
    }
    pub fn token(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base)
    }
    pub fn register(&self) -> String {
        format!("{}{REGISTER_PATH}", self.base)
    }
    pub fn revoke(&self) -> String {
        format!("{}{REVOKE_PATH}", self.base)
    }
    pub fn introspect(&self) -> String {
        format!("{}{INTROSPECT_PATH}", self.base)
    }
}
