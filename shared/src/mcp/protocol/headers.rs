//! The MCP request headers: `MCP-Protocol-Version` (2025-06-18 on) and the 2026-07-28 standard
//! headers `Mcp-Method` and `Mcp-Name`, which mirror the body so that intermediaries can route
//! without parsing it, and which the server must therefore check against the body.
//!
//! Not for: `Mcp-Param-*` headers (no tool here declares `x-mcp-header`, so none is recognised,
//! and unrecognised ones are ignored as the 2026-07-28 transport says), or `Mcp-Session-Id`
//! (this server is stateless: it never issues one and ignores one sent).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use serde_json::Value;

use super::jsonrpc::RpcError;

pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub const METHOD: &str = "mcp-method";
pub const NAME: &str = "mcp-name";

/// One header as received.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field {
    #[default]
    Absent,
    /// The value, without surrounding whitespace (RFC 9110 field values exclude it).
    Value(String),
    /// Sent more than once, not visible ASCII, or a bad Base64 sentinel.
    Malformed,
}

impl Field {
    fn read(headers: &HeaderMap, name: &str) -> Field {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Field::Absent;
        };
        // Two copies could route one way and execute another; refuse the ambiguity.
        if values.next().is_some() {
            return Field::Malformed;
        }
        match first.to_str() {
            Ok(v) => Field::Value(v.trim_matches([' ', '\t']).to_owned()),
            Err(_) => Field::Malformed,
        }
    }

    /// Decodes the `=?base64?…?=` sentinel form that `Mcp-Name` (and `Mcp-Param-*`) use for
    /// values that are not plain ASCII (2026-07-28 transports, "Value Encoding").
    fn decoded(self) -> Field {
        let Field::Value(v) = self else { return self };
        match v.strip_prefix("=?base64?").and_then(|rest| rest.strip_suffix("?=")) {
            None => Field::Value(v),
            Some(encoded) => match STANDARD.decode(encoded).ok().and_then(|b| String::from_utf8(b).ok()) {
                Some(text) => Field::Value(text),
                None => Field::Malformed,
            },
        }
    }
}

/// The MCP headers of one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct McpHeaders {
    pub protocol_version: Field,
    pub method: Field,
    pub name: Field,
}

impl McpHeaders {
    pub fn read(headers: &HeaderMap) -> Self {
        McpHeaders {
            protocol_version: Field::read(headers, PROTOCOL_VERSION),
            method: Field::read(headers, METHOD),
            name: Field::read(headers, NAME).decoded(),
        }
    }

    /// The protocol version header as the text to look up; a malformed one is looked up as its
    /// empty string, so that it is answered as an unsupported version.
    pub fn version(&self) -> Option<&str> {
        match &self.protocol_version {
            Field::Absent => None,
            Field::Value(v) => Some(v),
            Field::Malformed => Some(""),
        }
    }

    /// 2026-07-28 "Server Validation": `Mcp-Method` is required on every request and must equal
    /// `method`; `Mcp-Name` is required where the body has `params.name` (`tools/call`,
    /// `prompts/get`) or `params.uri` (`resources/read`) and must equal it. Values are compared
    /// case-sensitively. Any failure is a 400 `HeaderMismatch`.
    pub fn check(&self, method: &str, params: Option<&Value>) -> Result<(), RpcError> {
        match &self.method {
            Field::Absent => return Err(RpcError::header_mismatch("the Mcp-Method header is required")),
            Field::Malformed => return Err(RpcError::header_mismatch("the Mcp-Method header is malformed")),
            Field::Value(v) if v != method => {
                return Err(RpcError::header_mismatch(format!(
                    "Mcp-Method header value '{v}' does not match body value '{method}'"
                )));
            }
            Field::Value(_) => {}
        }
        let source = match method {
            "tools/call" | "prompts/get" => "name",
            "resources/read" => "uri",
            _ => return Ok(()),
        };
        let body = params.and_then(|p| p.get(source)).and_then(Value::as_str);
        match (&self.name, body) {
            (Field::Absent, None) => Ok(()),
            (Field::Absent, Some(_)) => Err(RpcError::header_mismatch(format!(
                "the Mcp-Name header is required for {method}"
            ))),
            (Field::Malformed, _) => Err(RpcError::header_mismatch("the Mcp-Name header is malformed")),
            (Field::Value(v), Some(b)) if v == b => Ok(()),
            (Field::Value(v), b) => Err(RpcError::header_mismatch(format!(
                "Mcp-Name header value '{v}' does not match body value '{}'",
                b.unwrap_or_default()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> McpHeaders {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        McpHeaders::read(&map)
    }

    #[test]
    fn header_values_are_trimmed_and_compared_case_sensitively() {
        let h = headers(&[("Mcp-Method", "  tools/list ")]);
        assert_eq!(h.check("tools/list", None), Ok(()));
        assert!(
            headers(&[("mcp-method", "Tools/List")])
                .check("tools/list", None)
                .is_err()
        );
    }

    #[test]
    fn mcp_name_is_required_for_tools_call_and_may_be_base64() {
        let params = json!({"name": "notes_add"});
        let plain = headers(&[("mcp-method", "tools/call"), ("mcp-name", "notes_add")]);
        assert_eq!(plain.check("tools/call", Some(&params)), Ok(()));
        let encoded = headers(&[("mcp-method", "tools/call"), ("mcp-name", "=?base64?bm90ZXNfYWRk?=")]);
        assert_eq!(encoded.check("tools/call", Some(&params)), Ok(()));
        let missing = headers(&[("mcp-method", "tools/call")]);
        assert!(missing.check("tools/call", Some(&params)).is_err());
        let other = headers(&[("mcp-method", "tools/call"), ("mcp-name", "whoami")]);
        assert!(other.check("tools/call", Some(&params)).is_err());
        let broken = headers(&[("mcp-method", "tools/call"), ("mcp-name", "=?base64?***?=")]);
        assert!(broken.check("tools/call", Some(&params)).is_err());
    }

    #[test]
    fn a_repeated_header_is_malformed() {
        let h = headers(&[("mcp-method", "tools/list"), ("mcp-method", "tools/call")]);
        assert_eq!(h.method, Field::Malformed);
    }
}
