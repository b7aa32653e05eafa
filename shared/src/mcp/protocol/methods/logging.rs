//! `logging/setLevel` (2025-03-26 to 2025-11-25 server/utilities/logging), served when the catalog
//! offers `logging`. A level set this way belongs to a session, which this server does not keep:
//! the answer acknowledges a valid level, and every request still gets the sessionless default
//! (see `mcp::notify`). 2026-07-28 removed the method for the per-request `_meta` level, which is
//! honoured exactly.
//!
//! Not for: sending log messages (see `mcp::notify`).

use serde_json::{Value, json};

use super::super::jsonrpc::RpcError;
use super::{Outcome, object};
use crate::mcp::notify::LogLevel;

/// `logging/setLevel`: `{}` for a known level, -32602 otherwise ("Invalid log level").
pub fn set_level(params: Option<&Value>) -> Outcome {
    let level = object(params, "logging/setLevel").and_then(|p| {
        p.and_then(|p| p.get("level"))
            .and_then(Value::as_str)
            .and_then(LogLevel::parse)
            .ok_or_else(|| {
                RpcError::invalid_params(
                    "logging/setLevel needs params.level: debug, info, notice, warning, error, critical, alert or emergency",
                )
            })
    });
    level.map(|_| json!({})).into()
}
