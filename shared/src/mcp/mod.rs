//! The MCP server: the resource that the authorization server protects.
//!
//! - `auth`: bearer-token validation and the 401/403 challenges.
//! - `tools`, `resources`, `prompts`: how a tool, resource or prompt is written; `catalog`: the
//!   value a deployment assembles of them (the fork-owned `catalog` crate builds it).
//! - `context`, `data`, `notify`, `input`: what a handler gets besides its arguments — its
//!   caller, that caller's own data, its progress and log notifications, and multi round-trip
//!   input.
//! - `protocol` and `transport`: JSON-RPC, protocol versions and Streamable HTTP.

pub mod auth;
pub mod catalog;
pub mod context;
pub mod data;
pub mod input;
pub mod notify;
pub mod prompts;
pub mod protocol;
pub mod resources;
pub mod tools;
