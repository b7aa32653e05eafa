//! mcp-oauth: a remote MCP server and the OAuth 2.1 authorization server that protects it.
//!
//! Every function's logic lives here as an axum router built from an [`app::AppState`]; the
//! binaries in `functions/` only host one router each in Lambda, and `infra/devserver` hosts all
//! of them on one local port.

pub mod accounts;
pub mod app;
pub mod aws;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod endpoints;
pub mod env;
pub mod form;
pub mod http;
pub mod keys;
pub mod kms;
pub mod mail;
pub mod mcp;
pub mod metrics;
pub mod resource;
pub mod scopes;
pub mod store;
pub mod tokens;
pub mod upstream;
pub mod urls;
