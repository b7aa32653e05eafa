//! Multi round-trip requests (2026-07-28 basic/patterns/mrtr): how a tool, prompt or resource asks
//! the client for input — an elicitation, a sampling, its roots — without holding anything open.
//! The handler answers with an [`InputRequired`]; the client gathers the answers and retries the
//! same request with `inputResponses` and the `requestState` it was given, and the handler, run
//! again, finds them in its [`Input`].
//!
//! `requestState` passes through the client, so it is sealed: HMAC-SHA-256 over the handler's
//! state together with the caller (user and client), the request it belongs to (method, name or
//! URI, and a digest of the arguments) and an expiry, as the revision's security requirements ask.
//! A state that was altered, is presented by someone else or on another request, or has expired
//! is refused with -32602 before any handler runs. The state is signed, not encrypted: the client
//! can read it, so a handler must keep nothing secret in it.
//!
//! Not for: notifications (see `mcp::notify`), or where the requests and answers sit in the
//! JSON-RPC messages (see `mcp::protocol`).

use serde_json::{Map, Value, json};

use crate::crypto::{b64, b64_decode, ct_eq, hmac_b64, sha256_parts};
use crate::keys::KeyRing;
use crate::tokens::principal::Principal;

/// The client capability each kind of input request needs.
pub const ELICITATION: &str = "elicitation";
pub const SAMPLING: &str = "sampling";
pub const ROOTS: &str = "roots";

/// How long a sealed `requestState` may come back: long enough for a person to answer a form,
/// short enough to bound replay (the revision asks for "a short expiry").
pub const STATE_TTL: i64 = 10 * 60;

/// One request for the client to fulfil: an `ElicitRequest`, `CreateMessageRequest` or
/// `ListRootsRequest` (the only kinds an `InputRequests` map may hold).
#[derive(Debug, Clone, PartialEq)]
pub struct InputRequest {
    method: &'static str,
    params: Value,
}

impl InputRequest {
    /// Asks the user to fill in a form (`elicitation/create`, form mode).
    pub fn elicit(message: impl Into<String>, requested_schema: Value) -> Self {
        InputRequest {
            method: "elicitation/create",
            params: json!({"message": message.into(), "requestedSchema": requested_schema}),
        }
    }

    /// Asks the client's model to answer `prompt` (`sampling/createMessage`).
    pub fn sample(prompt: impl Into<String>, max_tokens: u32) -> Self {
        InputRequest {
            method: "sampling/createMessage",
            params: json!({
                "messages": [{"role": "user", "content": {"type": "text", "text": prompt.into()}}],
                "maxTokens": max_tokens,
            }),
        }
    }

    /// Asks for the client's roots (`roots/list`).
    pub fn list_roots() -> Self {
        InputRequest {
            method: "roots/list",
            params: json!({}),
        }
    }

    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The client capability without which this request may not be sent ("Servers MUST NOT send
    /// an inputRequests that the client has not declared support for").
    pub fn capability(&self) -> &'static str {
        match self.method {
            "elicitation/create" => ELICITATION,
            "sampling/createMessage" => SAMPLING,
            _ => ROOTS,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"method": self.method, "params": self.params})
    }
}

/// What a handler answers when it cannot finish without more input: requests for the client,
/// state for the retry to bring back, or both.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputRequired {
    pub requests: Vec<(String, InputRequest)>,
    pub state: Option<Value>,
}

impl InputRequired {
    pub fn new() -> Self {
        InputRequired::default()
    }

    /// Adds a request under `key`, the name its answer will come back under.
    pub fn ask(mut self, key: impl Into<String>, request: InputRequest) -> Self {
        self.requests.push((key.into(), request));
        self
    }

    /// State the retry will bring back, sealed; readable by the client, so nothing secret.
    pub fn keep(mut self, state: Value) -> Self {
        self.state = Some(state);
        self
    }

    /// The capabilities these requests need that `input`'s client did not declare.
    pub fn missing_capabilities(&self, input: &Input) -> Vec<&'static str> {
        let mut missing: Vec<&'static str> = Vec::new();
        for (_, request) in &self.requests {
            let needed = request.capability();
            if !input.client_supports(needed) && !missing.contains(&needed) {
                missing.push(needed);
            }
        }
        missing
    }
}

/// What a retried request brought back, and what its client can be asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    responses: Map<String, Value>,
    state: Option<Value>,
    /// The client's declared capabilities; `None` when the request's revision cannot carry input
    /// requests at all (everything before 2026-07-28, whose capabilities lived in a session).
    capabilities: Option<Map<String, Value>>,
}

impl Input {
    /// Input for a request under a revision without multi round-trip requests.
    pub fn unavailable() -> Self {
        Input::default()
    }

    /// Input for a 2026-07-28 request: its declared capabilities, the answers it brought and the
    /// state it brought back (already verified).
    pub fn new(capabilities: Map<String, Value>, responses: Map<String, Value>, state: Option<Value>) -> Self {
        Input {
            responses,
            state,
            capabilities: Some(capabilities),
        }
    }

    /// Whether the client can be asked for input at all on this request.
    pub fn available(&self) -> bool {
        self.capabilities.is_some()
    }

    /// Whether the client declared `capability` on this request.
    pub fn client_supports(&self, capability: &str) -> bool {
        self.capabilities
            .as_ref()
            .is_some_and(|c| c.get(capability).is_some_and(Value::is_object))
    }

    /// The capabilities among `needed` the client did not declare.
    pub fn missing(&self, needed: &[&'static str]) -> Vec<&'static str> {
        needed.iter().copied().filter(|c| !self.client_supports(c)).collect()
    }

    /// The state this request brought back, verified.
    pub fn state(&self) -> Option<&Value> {
        self.state.as_ref()
    }

    /// The client's raw answer to the request under `key`.
    pub fn response(&self, key: &str) -> Option<&Map<String, Value>> {
        self.responses.get(key).and_then(Value::as_object)
    }

    /// The form content of an accepted elicitation under `key` (`None` if it was declined,
    /// cancelled, or not answered).
    pub fn accepted(&self, key: &str) -> Option<&Map<String, Value>> {
        let answer = self.response(key)?;
        (answer.get("action").and_then(Value::as_str) == Some("accept"))
            .then(|| answer.get("content").and_then(Value::as_object))
            .flatten()
    }

    /// The text of a sampling answer under `key`.
    pub fn sampled_text(&self, key: &str) -> Option<&str> {
        self.response(key)?.get("content")?.get("text")?.as_str()
    }

    /// The roots of a `roots/list` answer under `key`.
    pub fn roots(&self, key: &str) -> Option<&Vec<Value>> {
        self.response(key)?.get("roots")?.as_array()
    }
}

/// Why a presented `requestState` was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("requestState failed its integrity check: send the request again without it")]
    Invalid,
    #[error("requestState belongs to another user or another request")]
    Foreign,
    #[error("requestState has expired: send the request again without it")]
    Expired,
    #[error("requestState cannot be sealed or checked right now")]
    Unavailable,
}

/// What a sealed state is bound to: who asked, which request, and the key that seals it.
pub struct Seal<'a> {
    keys: &'a KeyRing,
    principal: &'a Principal,
    request: String,
}

const MAC_LABEL: &str = "mcp-oauth requestState v1.";

impl<'a> Seal<'a> {
    /// The seal for `method` on `target` (a tool or prompt name, a resource URI) with `arguments`.
    pub fn new(keys: &'a KeyRing, principal: &'a Principal, method: &str, target: &str, arguments: &Value) -> Self {
        let arguments = arguments.to_string();
        Seal {
            keys,
            principal,
            request: sha256_parts(&[method.as_bytes(), target.as_bytes(), arguments.as_bytes()]),
        }
    }

    // The MAC key comes from the signing key that signed the caller's access token: every
    // instance derives it from key records it already reads to verify tokens, it rotates with
    // them, and no new secret or store permission is needed (see `KeyRing::derived_secret`).
    async fn secret(&self, kid: &str) -> Result<Option<[u8; 32]>, StateError> {
        self.keys.derived_secret(kid).await.map_err(|e| {
            tracing::error!(error = %e, "cannot load the key that seals requestState");
            StateError::Unavailable
        })
    }

    /// `state`, sealed for this request and caller.
    pub async fn seal(&self, state: &Value) -> Result<String, StateError> {
        let kid = &self.principal.key_id;
        let secret = self.secret(kid).await?.ok_or(StateError::Unavailable)?;
        let payload = json!({
            "kid": kid,
            "sub": self.principal.user_id,
            "cid": self.principal.client_id,
            "req": self.request,
            "exp": self.keys.clock().now() + STATE_TTL,
            "state": state,
        });
        let body = b64(payload.to_string().as_bytes());
        let mac = hmac_b64(&secret, format!("{MAC_LABEL}{body}").as_bytes());
        Ok(format!("{body}.{mac}"))
    }

    /// The state sealed in `sealed`, if it is intact, this caller's, this request's and current.
    pub async fn open(&self, sealed: &str) -> Result<Value, StateError> {
        let (body, mac) = sealed.split_once('.').ok_or(StateError::Invalid)?;
        let payload: Value = b64_decode(body)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(StateError::Invalid)?;
        // The kid is read before the MAC is checked only to choose the key; a forged one selects
        // a key whose MAC the forger cannot compute.
        let kid = payload.get("kid").and_then(Value::as_str).ok_or(StateError::Invalid)?;
        let secret = self.secret(kid).await?.ok_or(StateError::Invalid)?;
        let expected = hmac_b64(&secret, format!("{MAC_LABEL}{body}").as_bytes());
        if !ct_eq(&expected, mac) {
            return Err(StateError::Invalid);
        }
        let field = |name: &str| payload.get(name).and_then(Value::as_str);
        if field("sub") != Some(self.principal.user_id.as_str())
            || field("cid") != Some(self.principal.client_id.as_str())
            || field("req") != Some(self.request.as_str())
        {
            return Err(StateError::Foreign);
        }
        let expires = payload.get("exp").and_then(Value::as_i64).ok_or(StateError::Invalid)?;
        if self.keys.clock().now() > expires {
            return Err(StateError::Expired);
        }
        Ok(payload.get("state").cloned().unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(capabilities: Value, responses: Value) -> Input {
        let as_map = |v: Value| v.as_object().cloned().unwrap_or_default();
        Input::new(as_map(capabilities), as_map(responses), None)
    }

    #[test]
    fn answers_are_read_by_kind() {
        let i = input(
            json!({}),
            json!({
                "form": {"action": "accept", "content": {"name": "Alice"}},
                "declined": {"action": "decline"},
                "sample": {"role": "assistant", "content": {"type": "text", "text": "Paris"}},
                "roots": {"roots": [{"uri": "file:///r"}]},
            }),
        );
        assert_eq!(i.accepted("form").unwrap()["name"], "Alice");
        assert!(i.accepted("declined").is_none());
        assert!(i.accepted("missing").is_none());
        assert_eq!(i.sampled_text("sample"), Some("Paris"));
        assert_eq!(i.roots("roots").map(Vec::len), Some(1));
    }

    #[test]
    fn requests_need_the_capability_of_their_kind() {
        let i = input(json!({"sampling": {}}), json!({}));
        let asked = InputRequired::new()
            .ask("a", InputRequest::sample("q", 10))
            .ask("b", InputRequest::elicit("m", json!({"type": "object"})))
            .ask("c", InputRequest::list_roots())
            .ask("d", InputRequest::elicit("n", json!({"type": "object"})));
        assert_eq!(asked.missing_capabilities(&i), vec![ELICITATION, ROOTS]);
        assert!(!Input::unavailable().client_supports(SAMPLING));
        assert!(!Input::unavailable().available());
    }
}
