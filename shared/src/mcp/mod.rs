//! The MCP server: the resource that the authorization server protects.
//!
//! - `auth`: bearer-token validation and the 401/403 challenges.
//! - `tools`: the tool registry and the built-in tools.
//! - `protocol` and `transport`: JSON-RPC, protocol versions and Streamable HTTP.

pub mod auth;
pub mod protocol;
pub mod tools;
pub mod transport;
