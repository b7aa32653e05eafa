//! The per-request `_meta` fields of MCP 2026-07-28 (basic/index, "Per-request protocol fields"),
//! and the server's identity that results carry back.
//!
//! Not for: the `MCP-Protocol-Version` header (see `protocol::version`).

use serde_json::{Map, Value};

use super::jsonrpc::RpcError;

pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// The least severe log level a 2026-07-28 request wants `notifications/message` for.
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// The protocol version a request's `params._meta` names, if any.
pub fn version(params: Option<&Value>) -> Option<&str> {
    params?.get("_meta")?.get(PROTOCOL_VERSION)?.as_str()
}

/// Checks the fields every 2026-07-28 request must carry: `protocolVersion` (a string equal to the
/// `MCP-Protocol-Version` header) and `clientCapabilities` (an object). `clientInfo` is a SHOULD,
/// so its absence is served.
pub fn check(params: Option<&Value>, header_version: &str) -> Result<(), RpcError> {
    let meta = params
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            RpcError::invalid_meta(format!(
                "params._meta is required: it must name {PROTOCOL_VERSION} and {CLIENT_CAPABILITIES}"
            ))
        })?;
    let version = meta
        .get(PROTOCOL_VERSION)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_meta(format!("params._meta must name {PROTOCOL_VERSION} as a string")))?;
    if !meta.get(CLIENT_CAPABILITIES).is_some_and(Value::is_object) {
        return Err(RpcError::invalid_meta(format!(
            "params._meta must carry {CLIENT_CAPABILITIES} as an object"
        )));
    }
    // 2026-07-28 transports: the header "MUST match" the body's version, else HeaderMismatch.
    if version != header_version {
        return Err(RpcError::header_mismatch(format!(
            "MCP-Protocol-Version header value '{header_version}' does not match _meta value '{version}'"
        )));
    }
    Ok(())
}

/// Adds what a 2026-07-28 result carries beyond its method's fields: `resultType: "complete"`
/// (basic/index: "The result MUST include a resultType field") and the server's identity in
/// `_meta` (servers "SHOULD include io.modelcontextprotocol/serverInfo in every result").
pub fn complete(mut result: Value, server_info: Value) -> Value {
    if let Some(obj) = result.as_object_mut() {
        obj.entry("resultType").or_insert_with(|| "complete".into());
        let meta = obj.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(SERVER_INFO.into(), server_info);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::protocol::jsonrpc::{HEADER_MISMATCH, INVALID_PARAMS};
    use serde_json::json;

    fn params(meta: Value) -> Value {
        json!({ "_meta": meta })
    }

    #[test]
    fn meta_must_name_a_version_and_capabilities_but_not_client_info() {
        let ok = params(json!({PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: {}}));
        assert_eq!(check(Some(&ok), "2026-07-28"), Ok(()));
        for bad in [
            json!({}),
            params(json!({CLIENT_CAPABILITIES: {}})),
            params(json!({PROTOCOL_VERSION: "2026-07-28"})),
            params(json!({PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: []})),
        ] {
            let e = check(Some(&bad), "2026-07-28").unwrap_err();
            assert_eq!((e.code, e.status.as_u16()), (INVALID_PARAMS, 400), "{bad}");
        }
        assert_eq!(check(None, "2026-07-28").unwrap_err().code, INVALID_PARAMS);
    }

    #[test]
    fn a_meta_version_other_than_the_header_is_a_header_mismatch() {
        let p = params(json!({PROTOCOL_VERSION: "2025-11-25", CLIENT_CAPABILITIES: {}}));
        let e = check(Some(&p), "2026-07-28").unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), (HEADER_MISMATCH, 400));
    }

    #[test]
    fn complete_results_carry_result_type_and_server_info() {
        let r = complete(json!({"tools": []}), json!({"name": "s", "version": "1"}));
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["_meta"][SERVER_INFO]["name"], "s");
    }
}
