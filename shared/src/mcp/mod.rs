//! The MCP server: the resource that the authorization server protects.
//!
//! - `auth`: bearer-token validation and the 401/403 challenges.
//! - `tools`, `resources`, `prompts`: the registries a developer adds to; `catalog`: what a
//!   deployment serves of them (and, when configured, of the conformance `fixtures`).
//! - `context`, `notify`, `input`: what a handler gets besides its arguments — its caller, its
//!   progress and log notifications, and multi round-trip input.
//! - `protocol` and `transport`: JSON-RPC, protocol versions and Streamable HTTP.

pub mod auth;
pub mod catalog;
pub mod context;
pub mod fixtures;
pub mod input;
pub mod notify;
pub mod prompts;
pub mod protocol;
pub mod resources;
pub mod revocation;
pub mod tools;
pub mod transport;
