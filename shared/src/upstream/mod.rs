//! Upstream sign-in ("Continue with GitHub / Google / your company's identity provider"): this
//! server as an OAuth client of another provider, through the `oauth2` crate.
//!
//! - `config`: which providers exist, from the environment; a provider needs no code.
//! - `oidc`: any OpenID Connect provider by its issuer URL: discovery, ID token validation.
//! - `github`: GitHub, which speaks OAuth 2.0 but not OpenID Connect.
//! - `identity`: what a provider says about the user, and the checks every provider shares.
//! - `secret`: client secrets, as values locally and from Secrets Manager in AWS.
//! - `policy`: who each provider may admit (organisations, hosted domains), and when its emails
//!   count as verified.
//!
//! The browser side of the flow (starting, and the callback that resumes the pending MCP
//! authorization) lives in `crate::endpoints::authorize::upstream`.

pub mod config;
pub mod error;
pub mod github;
pub mod identity;
pub mod oidc;
pub mod policy;
pub mod secret;

pub use config::{ProviderConfig, ProviderKind};
pub use error::UpstreamError;
pub use identity::Identity;

use std::time::Duration;

/// The HTTP client for upstream calls. Redirects are not followed (an endpoint that redirects is
/// misconfigured, and following could be steered toward internal addresses), and every call has
/// a deadline well inside the Lambda timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(6))
        .user_agent(concat!("mcp-oauth-lambda/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
