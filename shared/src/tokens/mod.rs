//! What the authorization server issues: authorization codes, grants with their refresh-token
//! chains, and JWT access tokens; and PKCE, which binds a code to its client.
//!
//! Not for: HTTP. The token and revocation endpoints (`endpoints::token`, `endpoints::revoke`) parse requests
//! and call in here.

pub mod access;
pub mod codes;
pub mod grants;
pub mod lifetimes;
pub mod liveness;
pub mod pkce;
pub mod principal;
