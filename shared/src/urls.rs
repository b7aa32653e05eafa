//! The public URLs of this deployment: issuer, MCP resource, endpoints.
//!
//! They come from `PUBLIC_URL`. In Lambda without it, API Gateway's `requestContext.domainName`
//! stands in: API Gateway sets it, so a client cannot forge it. The `Host` header never does.

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::app::AppState;
use crate::config::base_str;
use crate::http::ApiError;

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

impl FromRequestParts<AppState> for Urls {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(url) = &state.config.public_url {
            return Ok(Urls::new(url));
        }
        use lambda_http::request::RequestContext;
        let domain = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(c)) => c.domain_name.clone(),
            Some(RequestContext::ApiGatewayV1(c)) => c.domain_name.clone(),
            _ => None,
        };
        domain
            .and_then(|d| crate::config::parse_public_url(&format!("https://{d}")))
            .map(|u| Urls::new(&u))
            .ok_or_else(|| {
                tracing::error!("PUBLIC_URL is unset and the request carries no API Gateway domain name");
                ApiError::unavailable("the server's public URL is not configured")
            })
    }
}
