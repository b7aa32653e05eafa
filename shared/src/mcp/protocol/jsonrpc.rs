//! JSON-RPC 2.0 framing: telling requests, notifications and responses apart, and the error
//! objects (with the HTTP status each is answered with when it is the whole reply).
//!
//! Bodies are read by [`parse`], stricter than `serde_json::from_slice`:
//!
//! - A request id comes back exactly as it was sent (JSON-RPC 2.0 "The Server MUST reply with the
//!   same value"): a string, or an integer kept as its own digits, however long. An id with a
//!   fraction or an exponent (`1.5`, `1e3`) is -32600: MCP ids are strings or integers, and
//!   `1e3` has no one exact integer spelling to echo. `-0` and big integers are echoed verbatim.
//! - A duplicate member name in any object of the body, at any depth, is -32600 for the whole
//!   body: which of two `method`s or `params` counts is undefined in JSON (RFC 8259 §4), and
//!   checking headers against the body must not read one copy while a method reads the other.
//!
//! Both are done here, by walking `serde_json::Deserializer` with visitors of our own (the id as
//! a `RawValue`), rather than with serde_json's `arbitrary_precision` feature: features unify
//! across the workspace, and that one would change how every crate using serde_json (the AWS SDK,
//! jsonwebtoken, our store records) reads and writes numbers.
//!
//! Not for: what a method means (see `protocol::methods`).

use std::fmt;

use http::StatusCode;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
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

    /// `UnsupportedProtocolVersionError`: lists what is `supported` (the caller, `version`, knows)
    /// and echoes what was asked for.
    pub fn unsupported_version(requested: &str, supported: &[&str]) -> Self {
        RpcError {
            data: Some(json!({"supported": supported, "requested": requested})),
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

/// A request id, exactly as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    String(String),
    /// An integer's JSON text (`-?(0|[1-9][0-9]*)`), which may not fit any machine integer.
    Integer(String),
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::String(s) => serializer.serialize_str(s),
            Id::Integer(digits) => RawValue::from_string(digits.clone())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::String(s) => write!(f, "{s:?}"),
            Id::Integer(digits) => f.write_str(digits),
        }
    }
}

/// True for JSON's integer grammar: no fraction, no exponent.
fn integer_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'))
}

/// The `id` member of a request object as read.
#[derive(Debug, Clone, PartialEq)]
pub enum IdField {
    Valid(Id),
    /// Present but not a string or an integer (null, a fraction, an object …).
    Invalid,
}

impl IdField {
    fn read(raw: &RawValue) -> Self {
        let text = raw.get();
        if integer_text(text) {
            return IdField::Valid(Id::Integer(text.to_owned()));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::String(s)) => IdField::Valid(Id::String(s)),
            _ => IdField::Invalid,
        }
    }
}

/// One element of a body: an object's `id` read apart (see the module doc), and the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub id: Option<IdField>,
    /// The object without its `id`, or the element itself when it is not an object.
    pub rest: Value,
}

impl Incoming {
    /// The id, when it is one an error may be answered to.
    pub fn readable_id(&self) -> Option<&Id> {
        match &self.id {
            Some(IdField::Valid(id)) => Some(id),
            _ => None,
        }
    }
}

/// A POST body: one message or a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Single(Incoming),
    Batch(Vec<Incoming>),
}

const DUPLICATE: &str = "duplicate member";

/// Reads a body: -32700 for what is not JSON, -32600 for a duplicate member name.
pub fn parse(body: &[u8]) -> Result<Body, RpcError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = TopSeed.deserialize(&mut de).and_then(|b| de.end().map(|()| b));
    parsed.map_err(|e| match e.classify() {
        // Only our visitors raise data errors: the body is JSON, but no valid JSON-RPC message.
        serde_json::error::Category::Data => RpcError::invalid_request(format!("Invalid Request: {e}")),
        _ => RpcError::parse_error(format!("Parse error: the body is not JSON ({e})")),
    })
}

/// Any JSON value, refusing duplicate member names at every depth.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE} {key:?}")));
            }
            let value = map.next_value_seed(Strict)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// One message: like [`Strict`], but an object's `id` is kept as its exact text.
struct MessageSeed;

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = Incoming;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Incoming, D::Error> {
        d.deserialize_any(self)
    }
}

fn bare(rest: Value) -> Incoming {
    Incoming { id: None, rest }
}

impl<'de> Visitor<'de> for MessageSeed {
    type Value = Incoming;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC message")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Incoming, E> {
        Strict.visit_bool(v).map(bare)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Incoming, E> {
        Strict.visit_i64(v).map(bare)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Incoming, E> {
        Strict.visit_u64(v).map(bare)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Incoming, E> {
        Strict.visit_f64(v).map(bare)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Incoming, E> {
        Strict.visit_str(v).map(bare)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Incoming, E> {
        Strict.visit_unit().map(bare)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Incoming, A::Error> {
        Strict.visit_seq(seq).map(bare)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Incoming, A::Error> {
        let mut id = None;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) || (key == "id" && id.is_some()) {
                return Err(de::Error::custom(format_args!("{DUPLICATE} {key:?}")));
            }
            if key == "id" {
                let raw: &RawValue = map.next_value()?;
                id = Some(IdField::read(raw));
            } else {
                let value = map.next_value_seed(Strict)?;
                out.insert(key, value);
            }
        }
        Ok(Incoming {
            id,
            rest: Value::Object(out),
        })
    }
}

/// A whole body: a batch of messages, or one.
struct TopSeed;

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = Body;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed {
    type Value = Body;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC message or batch")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Body, E> {
        MessageSeed.visit_bool(v).map(Body::Single)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Body, E> {
        MessageSeed.visit_i64(v).map(Body::Single)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Body, E> {
        MessageSeed.visit_u64(v).map(Body::Single)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Body, E> {
        MessageSeed.visit_f64(v).map(Body::Single)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Body, E> {
        MessageSeed.visit_str(v).map(Body::Single)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Body, E> {
        MessageSeed.visit_unit().map(Body::Single)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(MessageSeed)? {
            items.push(item);
        }
        Ok(Body::Batch(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Body, A::Error> {
        MessageSeed.visit_map(map).map(Body::Single)
    }
}

/// One response as sent: `error` or `result`, the id when there is one, and `jsonrpc` (in this
/// order, the order answers have always had).
#[derive(Serialize)]
struct Response<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Id>,
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
}

fn render(response: &Response) -> String {
    // Serializing a `Value` and a checked id cannot fail.
    serde_json::to_string(response).unwrap_or_default()
}

/// A JSON-RPC error response, as JSON text. Without a readable id the `id` member is left out
/// (MCP's `JSONRPCErrorResponse` has `id?: RequestId`, and an id is never null in MCP).
pub fn error_response(id: Option<&Id>, error: &RpcError) -> String {
    let mut err = Map::new();
    err.insert("code".into(), error.code.into());
    err.insert("message".into(), error.message.clone().into());
    if let Some(data) = &error.data {
        err.insert("data".into(), data.clone());
    }
    render(&Response {
        jsonrpc: "2.0",
        id,
        result: None,
        error: Some(Value::Object(err)),
    })
}

/// A JSON-RPC result response, as JSON text.
pub fn result_response(id: &Id, result: &Value) -> String {
    render(&Response {
        jsonrpc: "2.0",
        id: Some(id),
        result: Some(result),
        error: None,
    })
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

/// Tells what kind of message `incoming` is, or why it is none (-32600 Invalid Request).
pub fn classify(incoming: Incoming) -> Result<Message, Invalid> {
    let Value::Object(mut obj) = incoming.rest else {
        return Err(Invalid {
            id: None,
            error: RpcError::invalid_request("a JSON-RPC message must be an object"),
        });
    };
    let id = match incoming.id {
        None => None,
        // MCP: "Requests MUST include a string or integer ID" and "the ID MUST NOT be null".
        Some(IdField::Valid(id)) => Some(id),
        Some(IdField::Invalid) => {
            return Err(Invalid {
                id: None,
                error: RpcError::invalid_request("id must be a string or an integer"),
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

    fn one(v: Value) -> Incoming {
        match parse(v.to_string().as_bytes()).unwrap() {
            Body::Single(m) => m,
            Body::Batch(_) => panic!("a batch"),
        }
    }

    fn int(digits: &str) -> Id {
        Id::Integer(digits.into())
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let req = classify(one(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}))).unwrap();
        assert_eq!(
            req,
            Message::Request {
                id: int("7"),
                method: "ping".into(),
                params: None
            }
        );
        let note = classify(one(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))).unwrap();
        assert_eq!(
            note,
            Message::Notification {
                method: "notifications/initialized".into()
            }
        );
        assert_eq!(
            classify(one(json!({"jsonrpc": "2.0", "id": "a", "result": {}}))).unwrap(),
            Message::Response
        );
    }

    #[test]
    fn malformed_messages_are_invalid_requests_keeping_a_readable_id() {
        for (v, id) in [
            (json!(1), None),
            (json!("ping"), None),
            (json!({"jsonrpc": "2.0", "id": null, "method": "ping"}), None),
            (json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}), None),
            (json!({"jsonrpc": "1.0", "id": 3, "method": "ping"}), Some(int("3"))),
            (
                json!({"jsonrpc": "2.0", "id": "x", "method": 5}),
                Some(Id::String("x".into())),
            ),
            (json!({"jsonrpc": "2.0", "id": 4}), Some(int("4"))),
        ] {
            let e = classify(one(v.clone())).unwrap_err();
            assert_eq!(e.error.code, INVALID_REQUEST, "{v}");
            assert_eq!(e.id, id, "{v}");
        }
    }

    #[test]
    fn an_error_without_a_readable_id_leaves_the_id_out() {
        let r: Value = serde_json::from_str(&error_response(None, &RpcError::parse_error("bad"))).unwrap();
        assert!(r.get("id").is_none());
        assert_eq!(r["error"]["code"], PARSE_ERROR);
    }

    #[test]
    fn integer_ids_are_echoed_digit_for_digit() {
        for text in [
            "0",
            "-0",
            "-17",
            "18446744073709551616",
            "123456789012345678901234567890",
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{text},"method":"ping"}}"#);
            let Body::Single(m) = parse(body.as_bytes()).unwrap() else {
                unreachable!()
            };
            let Ok(Message::Request { id, .. }) = classify(m) else {
                panic!("{text}: not a request");
            };
            assert_eq!(id, int(text));
            assert!(
                result_response(&id, &json!({})).contains(&format!(r#""id":{text}"#)),
                "{text}"
            );
        }
    }

    #[test]
    fn ids_with_a_fraction_or_exponent_are_invalid_requests() {
        for text in ["1.5", "1e3", "1E3", "1.0", "-2e-1"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{text},"method":"ping"}}"#);
            let Body::Single(m) = parse(body.as_bytes()).unwrap() else {
                unreachable!()
            };
            let e = classify(m).unwrap_err();
            assert_eq!(e.error.code, INVALID_REQUEST, "{text}");
            assert_eq!(e.id, None, "{text}");
        }
    }

    #[test]
    fn duplicate_member_names_at_any_depth_are_invalid_requests() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[{"k":1,"k":2}]}}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping","jsonrpc":"2.0"}]"#,
        ] {
            assert_eq!(parse(body.as_bytes()).unwrap_err().code, INVALID_REQUEST, "{body}");
        }
        assert_eq!(parse(b"{\"a\":").unwrap_err().code, PARSE_ERROR);
        assert_eq!(parse(b"{} x").unwrap_err().code, PARSE_ERROR);
    }

    #[test]
    fn deeply_nested_bodies_are_refused_without_exhausting_the_stack() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for body in [
            deep(100_000),
            format!(r#"{{"jsonrpc":"2.0","id":{},"method":"ping"}}"#, deep(100_000)),
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}}"#,
                deep(100_000)
            ),
        ] {
            match parse(body.as_bytes()) {
                Err(e) => assert_eq!(e.code, PARSE_ERROR),
                Ok(Body::Single(m)) => assert!(classify(m).is_err()),
                Ok(Body::Batch(_)) => panic!("a 100 000-deep batch must not parse"),
            }
        }
    }
}
