//! The MCP protocol revisions this server speaks, which one a request is under, and what each
//! revision changes in the way a request is answered.
//!
//! Not for: reading headers (see `protocol::headers`) or building results (see `protocol::methods`).

use serde_json::Value;

use super::jsonrpc::RpcError;
use super::meta;

/// A protocol revision, oldest first (the order compares revisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Revision {
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl Revision {
    /// Every supported revision, newest first: the order `supportedVersions` lists them in.
    pub const SUPPORTED: [Revision; 4] = [
        Revision::V2026_07_28,
        Revision::V2025_11_25,
        Revision::V2025_06_18,
        Revision::V2025_03_26,
    ];

    /// The newest revision that opens with `initialize`; 2026-07-28 has no handshake, so this is
    /// what `initialize` answers when it cannot answer the version asked for.
    pub const LATEST_WITH_INITIALIZE: Revision = Revision::V2025_11_25;

    /// What a request without `MCP-Protocol-Version` is taken to speak (2025-06-18 and 2025-11-25
    /// transports: "the server SHOULD assume protocol version 2025-03-26"; 2026-07-28: a server
    /// that supports clients older than 2025-06-18 "MAY treat a request that omits the header as
    /// protocol version 2025-03-26").
    pub const WITHOUT_HEADER: Revision = Revision::V2025_03_26;

    pub fn as_str(self) -> &'static str {
        match self {
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
        }
    }

    pub fn parse(s: &str) -> Option<Revision> {
        Revision::SUPPORTED.into_iter().find(|r| r.as_str() == s)
    }

    /// Every supported version string, newest first.
    pub fn supported() -> Vec<&'static str> {
        Revision::SUPPORTED.iter().map(|r| r.as_str()).collect()
    }

    /// 2026-07-28 and later: no handshake; every request carries its version and capabilities in
    /// `_meta`, mirrors `method` and `name` in headers, and every result carries `resultType`.
    pub fn is_modern(self) -> bool {
        self >= Revision::V2026_07_28
    }

    /// Only 2025-03-26 lets a POST carry a JSON-RPC batch (its basic/index: implementations
    /// "MUST support receiving JSON-RPC batches"); 2025-06-18 removed batching.
    pub fn accepts_batches(self) -> bool {
        self == Revision::V2025_03_26
    }

    /// `title` on tools and implementations, and `structuredContent` on tool results, arrived in
    /// 2025-06-18.
    pub fn has_titles_and_structured_content(self) -> bool {
        self >= Revision::V2025_06_18
    }

    /// From 2025-11-25 (SEP-1303), arguments that fail a tool's input validation are a tool
    /// execution error (`isError: true`) the model can correct; before, they were a protocol
    /// error (-32602, "Invalid arguments" in 2025-03-26 and 2025-06-18 server/tools).
    pub fn invalid_arguments_are_tool_errors(self) -> bool {
        self >= Revision::V2025_11_25
    }

    /// `initialize` version negotiation (2025-03-26 to 2025-11-25 basic/lifecycle): the version
    /// asked for if supported, otherwise the latest the server supports. Since `initialize` selects
    /// the handshake era (2026-07-28 basic/versioning, "dual-era server"), that is the latest
    /// revision that has `initialize`, even when 2026-07-28 itself is asked for.
    pub fn negotiate(requested: &str) -> Revision {
        Revision::parse(requested)
            .filter(|r| !r.is_modern())
            .unwrap_or(Revision::LATEST_WITH_INITIALIZE)
    }
}

/// The revision a POST is under: the `MCP-Protocol-Version` header's, or 2025-03-26 without one.
///
/// - A header naming a version this server does not speak is a 400 with
///   `UnsupportedProtocolVersionError` (2026-07-28 basic/versioning; 2025-06-18 and 2025-11-25
///   transports require the 400 and leave the body open, so every revision gets this one).
/// - A body whose `_meta` names a protocol version is a 2026-07-28 request, and that revision makes
///   the header mandatory: without it, the request is a 400 `HeaderMismatch` rather than silently
///   being treated as 2025-03-26.
pub fn of_request(header: Option<&str>, body: &Value) -> Result<Revision, RpcError> {
    match header {
        Some(v) => Revision::parse(v).ok_or_else(|| RpcError::unsupported_version(v, &Revision::supported())),
        None if meta::version(body.get("params")).is_some() => Err(RpcError::header_mismatch(
            "the MCP-Protocol-Version header is required when _meta names a protocol version",
        )),
        None => Ok(Revision::WITHOUT_HEADER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialize_answers_the_version_asked_for_when_it_has_a_handshake() {
        assert_eq!(Revision::negotiate("2025-03-26"), Revision::V2025_03_26);
        assert_eq!(Revision::negotiate("2025-06-18"), Revision::V2025_06_18);
        assert_eq!(Revision::negotiate("2025-11-25"), Revision::V2025_11_25);
    }

    #[test]
    fn initialize_answers_the_latest_handshake_revision_otherwise() {
        assert_eq!(Revision::negotiate("2024-11-05"), Revision::V2025_11_25);
        assert_eq!(Revision::negotiate("2026-07-28"), Revision::V2025_11_25);
        assert_eq!(Revision::negotiate("banana"), Revision::V2025_11_25);
    }

    #[test]
    fn revisions_compare_by_date() {
        let mut sorted = Revision::SUPPORTED;
        sorted.sort();
        let dates: Vec<&str> = sorted.iter().map(|r| r.as_str()).collect();
        let mut by_text = dates.clone();
        by_text.sort();
        assert_eq!(dates, by_text);
    }

    #[test]
    fn a_request_without_the_header_is_2025_03_26_unless_its_meta_names_a_version() {
        let plain = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        assert_eq!(of_request(None, &plain), Ok(Revision::V2025_03_26));
        let modern = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
            "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
        assert_eq!(
            of_request(None, &modern).unwrap_err().code,
            super::super::jsonrpc::HEADER_MISMATCH
        );
        assert_eq!(of_request(Some("2026-07-28"), &modern), Ok(Revision::V2026_07_28));
    }
}
