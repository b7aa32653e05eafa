//! JSON-RPC 2.0 framing: telling requests, notifications and responses apart, and the error
//! objects (with the HTTP status each is answered with when it is the whole reply).
//!
//! Not for: what a method means (see `protocol::methods`).

use http::StatusCode;
use serde_json::{Map, Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// 2025-03-26 to 2025-11-25 server/resources: "Resource not found" (2026-07-28 uses -32602).
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// 2026-07-28: the request needs a client capability its `_meta` did not declare.
pub const MISSING_CLIENT_CAPABILITY: i64 = -32021;
/// 2026-07-28: headers disagree with the body, or a required header is missing or malformed.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the requested protocol version is not one this server speaks.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A JSON-RPC error object, and the HTTP status it gets when it is the only thing answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
    pub status: StatusCode,
}

impl RpcError {
    fn new(code: i64, status: StatusCode, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
            status,
        }
    }

    pub fn parse_error(message: impl Into<String>) -> Self {
        RpcError::new(PARSE_ERROR, StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_REQUEST, StatusCode::BAD_REQUEST, message)
    }

    /// An unknown method. 2026-07-28 transports answer it with HTTP 404, so that a client can
    /// tell it from a legacy server's 404; earlier revisions answer it like any JSON-RPC error.
    pub fn method_not_found(method: &str, modern: bool) -> Self {
        let status = if modern { StatusCode::NOT_FOUND } else { StatusCode::OK };
        RpcError::new(METHOD_NOT_FOUND, status, format!("Method not found: {method}"))
    }

    /// Parameters that do not fit the method: an ordinary JSON-RPC error (HTTP 200).
    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, StatusCode::OK, message)
    }

    /// 2026-07-28 basic/index: a request missing a required `_meta` field "is malformed; the server
    /// MUST reject it with -32602 (Invalid params). On HTTP, the response status MUST be 400".
    pub fn invalid_meta(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, StatusCode::BAD_REQUEST, message)
    }

    /// Something on the server's side failed (a store outage, say); the message says what, never
    /// how.
    pub fn internal(message: impl Into<String>) -> Self {
        RpcError::new(INTERNAL_ERROR, StatusCode::OK, message)
    }

    /// No resource at `uri`: -32002 up to 2025-11-25, -32602 from 2026-07-28 (server/resources
    /// "Error Handling"), with the URI in `data` either way.
    pub fn resource_not_found(uri: &str, modern: bool) -> Self {
        let code = if modern { INVALID_PARAMS } else { RESOURCE_NOT_FOUND };
        RpcError {
            data: Some(json!({ "uri": uri })),
            ..RpcError::new(code, StatusCode::OK, format!("Resource not found: {uri}"))
        }
    }

    /// `MissingRequiredClientCapabilityError` (2026-07-28 basic/index): `requiredCapabilities` is a
    /// `ClientCapabilities` object keyed by each missing capability; on HTTP, status 400.
    pub fn missing_client_capabilities(capabilities: &[&str]) -> Self {
        let required: Map<String, Value> = capabilities.iter().map(|c| ((*c).to_owned(), json!({}))).collect();
        RpcError {
            data: Some(json!({ "requiredCapabilities": required })),
            ..RpcError::new(
                MISSING_CLIENT_CAPABILITY,
                StatusCode::BAD_REQUEST,
                format!("Missing required client capability: {}", capabilities.join(", ")),
            )
        }
    }

    pub fn header_mismatch(message: impl Into<String>) -> Self {
        RpcError::new(
            HEADER_MISMATCH,
            StatusCode::BAD_REQUEST,
            format!("Header mismatch: {}", message.into()),
        )
    }

    /// `UnsupportedProtocolVersionError`: lists what is supported and echoes what was asked for.
    pub fn unsupported_version(requested: &str) -> Self {
        RpcError {
            data: Some(json!({"supported": super::version::Revision::supported(), "requested": requested})),
            ..RpcError::new(
                UNSUPPORTED_PROTOCOL_VERSION,
                StatusCode::BAD_REQUEST,
                "Unsupported protocol version",
            )
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// A request id: a string or a number.
pub type Id = Value;

/// A JSON-RPC error response. Without a readable id the `id` member is left out (MCP's
/// `JSONRPCErrorResponse` has `id?: RequestId`, and an id is never null in MCP).
pub fn error_response(id: Option<&Id>, error: &RpcError) -> Value {
    let mut err = Map::new();
    err.insert("code".into(), error.code.into());
    err.insert("message".into(), error.message.clone().into());
    if let Some(data) = &error.data {
        err.insert("data".into(), data.clone());
    }
    let mut res = Map::new();
    res.insert("jsonrpc".into(), "2.0".into());
    if let Some(id) = id {
        res.insert("id".into(), id.clone());
    }
    res.insert("error".into(), Value::Object(err));
    Value::Object(res)
}

pub fn result_response(id: &Id, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// One JSON-RPC message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Id,
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
    },
    /// A response to a server-to-client request (this server sends none).
    Response,
}

/// A value that is not a valid JSON-RPC message, with its id when one could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub id: Option<Id>,
    pub error: RpcError,
}

/// Tells what kind of message `value` is, or why it is none (-32600 Invalid Request).
pub fn classify(value: Value) -> Result<Message, Invalid> {
    let Value::Object(mut obj) = value else {
        return Err(Invalid {
            id: None,
            error: RpcError::invalid_request("a JSON-RPC message must be an object"),
        });
    };
    let id = match obj.remove("id") {
        None => None,
        // MCP: "Requests MUST include a string or integer ID" and "the ID MUST NOT be null".
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => {
            return Err(Invalid {
                id: None,
                error: RpcError::invalid_request("id must be a string or a number"),
            });
        }
    };
    let invalid = |id: Option<Id>, why: &str| {
        Err(Invalid {
            id,
            error: RpcError::invalid_request(why),
        })
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(id, "jsonrpc must be \"2.0\"");
    }
    match obj.remove("method") {
        Some(Value::String(method)) => match id {
            Some(id) => Ok(Message::Request {
                id,
                method,
                params: obj.remove("params"),
            }),
            None => Ok(Message::Notification { method }),
        },
        Some(_) => invalid(id, "method must be a string"),
        None if obj.contains_key("result") != obj.contains_key("error") => Ok(Message::Response),
        None => invalid(id, "a request needs a method"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let req = classify(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"})).unwrap();
        assert_eq!(
            req,
            Message::Request {
                id: json!(7),
                method: "ping".into(),
                params: None
            }
        );
        let note = classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).unwrap();
        assert_eq!(
            note,
            Message::Notification {
                method: "notifications/initialized".into()
            }
        );
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": "a", "result": {}})).unwrap(),
            Message::Response
        );
    }

    #[test]
    fn malformed_messages_are_invalid_requests_keeping_a_readable_id() {
        for (v, id) in [
            (json!([1]), None),
            (json!("ping"), None),
            (json!({"jsonrpc": "2.0", "id": null, "method": "ping"}), None),
            (json!({"jsonrpc": "1.0", "id": 3, "method": "ping"}), Some(json!(3))),
            (json!({"jsonrpc": "2.0", "id": "x", "method": 5}), Some(json!("x"))),
            (json!({"jsonrpc": "2.0", "id": 4}), Some(json!(4))),
        ] {
            let e = classify(v.clone()).unwrap_err();
            assert_eq!(e.error.code, INVALID_REQUEST, "{v}");
            assert_eq!(e.id, id, "{v}");
        }
    }

    #[test]
    fn an_error_without_a_readable_id_leaves_the_id_out() {
        let r = error_response(None, &RpcError::parse_error("bad"));
        assert!(r.get("id").is_none());
        assert_eq!(r["error"]["code"], PARSE_ERROR);
    }
}
