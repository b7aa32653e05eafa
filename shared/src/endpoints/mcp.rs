//! The `/mcp` endpoint: MCP's Streamable HTTP transport, stateless, one buffered answer per POST.
//!
//! Every request goes through, in this order:
//! 1. **Host and Origin** (DNS rebinding): when the public URL is on a loopback host (a local
//!    server), `Host` must name a loopback host or the public host, else 403. `Origin` absent (a
//!    non-browser client) is fine; otherwise it must be this server's own origin or one of
//!    `ALLOWED_ORIGINS`, else 403 (every revision's transports: "MUST validate the Origin header …
//!    to prevent DNS rebinding", 403 since 2025-11-25). Allowed browser origins also get CORS
//!    answers, preflights included.
//! 2. **Authentication** (`mcp::auth`), before looking at the method: mcp-remote probes with an
//!    unauthenticated GET and must get the 401 challenge, not a 405.
//! 3. **Method**: POST only; GET (no server-to-client stream is offered) and DELETE (there are no
//!    sessions to end) are 405 with `Allow: POST`, as every revision allows.
//! 4. **Content**: `Content-Type: application/json` (else 415); an `Accept` that admits neither
//!    `application/json` nor `text/event-stream` is 406 (clients must list both; one that lists
//!    only one still gets that one); a body over [`MAX_BODY`] is 413.
//! 5. **Protocol** (`mcp::protocol`), then the answer: 202 with no body for notifications, JSON
//!    for a reply, or — when notifications must precede the result — one complete
//!    `text/event-stream` body carrying them and then the result, the stream's end closing it.
//!
//! No `Mcp-Session-Id` is ever issued, and one sent is ignored (2026-07-28 removed sessions;
//! earlier revisions make them optional). No SSE event ids are sent: nothing is resumable, so the
//! 2025-11-25 priming event (an id for `Last-Event-ID`) would promise a replay that cannot happen.
//! Transport-level refusals carry a JSON-RPC error without an `id`, as the transports allow.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::app::AppState;
use crate::mcp::auth::{self, Challenge, Denied};
use crate::mcp::protocol::{self, Answer, Context, McpHeaders, RpcError, ServerInfo, jsonrpc};
use crate::metrics::{self, Metric};
use crate::scopes::Scopes;
use crate::urls::{MCP_PATH, Urls};

/// Largest request body accepted, in bytes. MCP requests are small JSON; this bounds the memory
/// an authenticated caller can make one invocation hold.
pub const MAX_BODY: usize = 1024 * 1024;

/// The MCP endpoint's routes.
pub fn routes(state: AppState) -> Router {
    let allowed: Arc<[String]> = state.config.allowed_origins.clone().into();
    // Browsers on an allowed origin may call /mcp; everyone else gets no CORS grant (and a 403).
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .ok()
                .and_then(normalize_origin)
                .is_some_and(|o| allowed.contains(&o))
        }))
        .allow_methods([Method::POST])
        // Authorization, MCP-Protocol-Version, Mcp-Method, Mcp-Name and any Mcp-Param-*.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::WWW_AUTHENTICATE]);
    // The CORS layer answers preflights only for methods the route has (see `register::routes`).
    let route = post(mcp)
        .get(mcp)
        .delete(mcp)
        .options(|| async { StatusCode::NO_CONTENT });
    Router::new().route(MCP_PATH, route).layer(cors).with_state(state)
}

/// A request turned away before the protocol sees it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Refused {
    #[error("origin {0} may not call this endpoint")]
    Origin(String),
    #[error("host {0} is not this server")]
    Host(String),
    #[error("this endpoint accepts POST only: it offers no event stream (GET) and no sessions (DELETE)")]
    MethodNotAllowed,
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("the client must accept application/json and text/event-stream")]
    NotAcceptable,
    #[error("the request body exceeds {MAX_BODY} bytes")]
    TooLarge,
    #[error("the request body could not be read")]
    Unreadable,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Refused::Origin(_) | Refused::Host(_) => StatusCode::FORBIDDEN,
            Refused::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refused::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refused::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::Unreadable => StatusCode::BAD_REQUEST,
        };
        let body = jsonrpc::error_response(None, &RpcError::invalid_request(self.to_string()));
        let mut res = json(status, body);
        if self == Refused::MethodNotAllowed {
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        res
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Answers hold the user's data; no shared cache may keep them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// An origin in its serialized form (`scheme://host[:port]`), or `None` for `null` or garbage.
fn normalize_origin(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Absent is fine; present, it must be ours or allowed. DNS rebinding makes a hostile page
/// same-site with a local server, so a browser's Origin is the only thing that tells them apart.
fn check_origin(headers: &HeaderMap, urls: &Urls, allowed: &[String]) -> Result<(), Refused> {
    let Some(raw) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(raw.as_bytes()).into_owned();
    let own = normalize_origin(urls.issuer());
    match normalize_origin(&text) {
        Some(origin) if Some(&origin) == own.as_ref() || allowed.contains(&origin) => Ok(()),
        _ => {
            tracing::warn!(event = "mcp_origin_refused", origin = %text);
            Err(Refused::Origin(text))
        }
    }
}

/// The host of a `Host` header value or URL authority, lower-cased, without its port.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().map(|h| format!("[{h}]")).unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default().to_owned()
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "[::1]") || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// A local server (public URL on a loopback host) is what DNS rebinding targets: a page on
/// evil.example whose name resolves to 127.0.0.1 reaches it with `Host: evil.example`. So such a
/// server answers only requests that name a loopback host (any port: a local proxy may front it)
/// or its public host. Deployed servers sit behind API Gateway, which routes by host already.
fn check_host(headers: &HeaderMap, urls: &Urls) -> Result<(), Refused> {
    let public = url::Url::parse(urls.issuer())
        .ok()
        .and_then(|u| u.host_str().map(host_name))
        .unwrap_or_default();
    if !is_loopback(&public) {
        return Ok(());
    }
    // HTTP/1.1 requires Host; a request without one names no foreign host either.
    let Some(raw) = headers.get(header::HOST) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(raw.as_bytes()).into_owned();
    let host = host_name(&text);
    if is_loopback(&host) || host == public {
        return Ok(());
    }
    tracing::warn!(event = "mcp_host_refused", host = %text);
    Err(Refused::Host(text))
}

/// Which of the two answer forms the client takes (no `Accept` means any).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Accepts {
    json: bool,
    sse: bool,
}

fn accepts(headers: &HeaderMap) -> Accepts {
    if headers.get(header::ACCEPT).is_none() {
        return Accepts { json: true, sse: true };
    }
    let ranges: Vec<String> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next()?.to_ascii_lowercase();
            // `q=0` means "not acceptable" (RFC 9110 §12.4.2).
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (!refused).then_some(media)
        })
        .collect();
    let any = |types: &[&str]| ranges.iter().any(|r| types.contains(&r.as_str()));
    Accepts {
        json: any(&["application/json", "application/*", "*/*"]),
        sse: any(&["text/event-stream", "text/*", "*/*"]),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Refused> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Refused::TooLarge);
    }
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(Refused::TooLarge),
        Err(_) => Err(Refused::Unreadable),
    }
}

/// One `text/event-stream` body: each notification, then the answer (JSON text), as a `message`
/// event each, in order.
pub fn sse_body(notifications: &[Value], answer: &str) -> String {
    notifications
        .iter()
        .map(|m| format!("event: message\ndata: {m}\n\n"))
        .chain(std::iter::once(format!("event: message\ndata: {answer}\n\n")))
        .collect()
}

fn respond(answer: Answer, accepts: Accepts, urls: &Urls, scopes: &Scopes) -> Response {
    match answer {
        Answer::Accepted => StatusCode::ACCEPTED.into_response(),
        Answer::Denied(challenge) => Denied {
            challenge,
            prm: urls.prm(),
            resource_scopes: scopes.resource_scopes(),
        }
        .into_response(),
        // A stream only for a successful reply with notifications to put first, or for a client
        // that takes nothing else; errors are always plain JSON.
        Answer::Messages {
            status,
            notifications,
            body,
        } if status == StatusCode::OK && ((!notifications.is_empty() && accepts.sse) || !accepts.json) => {
            let mut res = (status, sse_body(&notifications, &body)).into_response();
            let headers = res.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            // The transports ask for this so that proxies do not hold events back.
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            res
        }
        // A client that takes no stream gets the result alone: the notifications are optional.
        Answer::Messages { status, body, .. } => json(status, body),
    }
}

/// The JSON-RPC methods counted by name in the `McpRequests` metric; any other is `other`, so a
/// client cannot mint metric dimensions (each is billed).
const COUNTED_METHODS: [&str; 15] = [
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "notifications/initialized",
];

/// The `Method` dimension of a body: a counted method, `notification` for other notifications,
/// `batch`, `other`, or `invalid` when it is not a JSON-RPC object.
fn method_label(body: &[u8]) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Probe {
        method: Option<String>,
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return "batch";
    }
    let Ok(Probe { method }) = serde_json::from_slice::<Probe>(body) else {
        return "invalid";
    };
    match method.as_deref() {
        None => "none",
        Some(m) => COUNTED_METHODS.iter().find(|c| **c == m).copied().unwrap_or_else(|| {
            if m.starts_with("notifications/") {
                "notification"
            } else {
                "other"
            }
        }),
    }
}

/// The `Outcome` dimension of an answer: `ok`, `error` (a JSON-RPC error, in any element of a
/// batch), `accepted` (202) or `forbidden` (403, a scope is missing).
fn outcome_label(answer: &Answer) -> &'static str {
    /// Only whether a response has an `error` member is read; nothing else is kept.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        error: Option<serde::de::IgnoredAny>,
    }
    match answer {
        Answer::Accepted => "accepted",
        Answer::Denied(_) => "forbidden",
        Answer::Messages { body, .. } => {
            let failed = if body.trim_start().starts_with('[') {
                serde_json::from_str::<Vec<Probe>>(body).map_or(true, |all| all.iter().any(|p| p.error.is_some()))
            } else {
                serde_json::from_str::<Probe>(body).map_or(true, |p| p.error.is_some())
            };
            if failed { "error" } else { "ok" }
        }
    }
}

/// The endpoint, counted: every request adds one to `McpRequests` by method and outcome
/// (`unauthorized` and `refused` requests are never read, so their method is `none`).
async fn mcp(
    State(state): State<AppState>,
    urls: Urls,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (response, method, outcome) = match serve(state, urls, method, uri, headers, body).await {
        Ok(served) => served,
        Err(refused) => (refused.into_response(), "none", "refused"),
    };
    metrics::count_with(Metric::McpRequests, &[("Method", method), ("Outcome", outcome)]);
    response
}

/// A response with its `Method` and `Outcome` metric dimensions.
type Served = (Response, &'static str, &'static str);

async fn serve(
    state: AppState,
    urls: Urls,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Served, Refused> {
    check_host(&headers, &urls)?;
    check_origin(&headers, &urls, &state.config.allowed_origins)?;
    let authenticated = match auth::authenticate(&state.keys, &urls, &headers, uri.query()).await {
        // Revocation reaches here within the window (see `tokens::liveness`).
        Ok((principal, Some(grant_ref))) => match state.liveness.is_live(&state.store, &grant_ref).await {
            Ok(true) => Ok(principal),
            Ok(false) => Err(Challenge::Invalid(
                "the access token's grant was revoked or has expired".into(),
            )),
            Err(e) => {
                let res = crate::http::ApiError::from(e).into_response();
                return Ok((res, "none", "unavailable"));
            }
        },
        Ok((principal, None)) => Ok(principal),
        Err(challenge) => Err(challenge),
    };
    let principal = match authenticated {
        Ok(p) => p,
        Err(challenge) => {
            if let Challenge::Invalid(reason) = &challenge {
                tracing::info!(event = "mcp_token_refused", reason = %reason);
            }
            let denied = Denied {
                challenge,
                prm: urls.prm(),
                resource_scopes: state.catalog.scopes().resource_scopes(),
            };
            return Ok((denied.into_response(), "none", "unauthorized"));
        }
    };
    if method != Method::POST {
        return Err(Refused::MethodNotAllowed);
    }
    if !is_json(&headers) {
        return Err(Refused::UnsupportedMediaType);
    }
    let accepts = accepts(&headers);
    if !accepts.json && !accepts.sse {
        return Err(Refused::NotAcceptable);
    }
    let bytes = read_body(&headers, body).await?;
    let ctx = Context {
        principal,
        store: state.store.clone(),
        server: ServerInfo::new(&state.config.resource_name, state.catalog.server_instructions()),
        catalog: state.catalog.clone(),
        keys: state.keys.clone(),
    };
    let answer = protocol::handle(&ctx, &McpHeaders::read(&headers), &bytes).await;
    let outcome = outcome_label(&answer);
    Ok((
        respond(answer, accepts, &urls, state.catalog.scopes()),
        method_label(&bytes),
        outcome,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_accept(value: &str) -> Accepts {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, value.parse().unwrap());
        accepts(&h)
    }

    #[test]
    fn accept_lists_are_read_as_media_ranges() {
        assert_eq!(accepts(&HeaderMap::new()), Accepts { json: true, sse: true });
        assert_eq!(
            with_accept("application/json, text/event-stream"),
            Accepts { json: true, sse: true }
        );
        assert_eq!(with_accept("*/*"), Accepts { json: true, sse: true });
        assert_eq!(with_accept("text/event-stream"), Accepts { json: false, sse: true });
        assert_eq!(
            with_accept("application/json;q=1, text/event-stream;q=0"),
            Accepts { json: true, sse: false }
        );
        assert_eq!(
            with_accept("text/html"),
            Accepts {
                json: false,
                sse: false
            }
        );
    }

    #[test]
    fn sse_body_puts_notifications_before_the_result() {
        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}});
        let result = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
        let body = sse_body(std::slice::from_ref(&progress), &result.to_string());
        let events: Vec<Value> = body
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line");
                serde_json::from_str(data).expect("JSON data")
            })
            .collect();
        assert_eq!(events, [progress, result]);
    }

    #[test]
    fn a_local_server_answers_only_loopback_or_its_own_host() {
        let local = Urls::new(&url::Url::parse("http://localhost:3000").unwrap());
        let host = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, v.parse().unwrap());
            h
        };
        for ok in ["localhost:3000", "127.0.0.1:9999", "[::1]:80", "LOCALHOST", "127.1.2.3"] {
            assert_eq!(check_host(&host(ok), &local), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:3000",
            "localhost.evil.example",
            "10.0.0.1:3000",
        ] {
            assert!(check_host(&host(bad), &local).is_err(), "{bad}");
        }
        assert_eq!(check_host(&HeaderMap::new(), &local), Ok(()));
        let deployed = Urls::new(&url::Url::parse("https://mcp.example.com").unwrap());
        assert_eq!(
            check_host(&host("abc.execute-api.us-east-1.amazonaws.com"), &deployed),
            Ok(())
        );
    }

    #[test]
    fn metric_method_labels_come_from_a_fixed_set_whatever_the_client_sends() {
        for (body, label) in [
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
                "tools/call",
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                "notifications/initialized",
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled"}"#,
                "notification",
            ),
            (r#"{"jsonrpc":"2.0","id":1,"method":"made/up/by/the/client"}"#, "other"),
            (r#"  [{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, "batch"),
            (r#"{"jsonrpc":"2.0","id":1,"result":{}}"#, "none"),
            (r#"{"method": 7}"#, "invalid"),
            ("not json", "invalid"),
            ("", "invalid"),
        ] {
            assert_eq!(method_label(body.as_bytes()), label, "{body}");
        }
    }

    #[test]
    fn metric_outcome_is_error_when_any_response_is_an_error() {
        let ok = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
        let err = json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -32601, "message": "x"}});
        let answer = |body: Value| Answer::Messages {
            status: StatusCode::OK,
            notifications: Vec::new(),
            body: body.to_string(),
        };
        assert_eq!(outcome_label(&answer(ok.clone())), "ok");
        assert_eq!(outcome_label(&answer(err.clone())), "error");
        assert_eq!(outcome_label(&answer(json!([ok.clone(), ok.clone()]))), "ok");
        assert_eq!(outcome_label(&answer(json!([ok, err]))), "error");
        assert_eq!(outcome_label(&Answer::Accepted), "accepted");
    }

    #[test]
    fn origins_are_compared_in_serialized_form() {
        assert_eq!(
            normalize_origin("HTTPS://App.Example.com:443").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(normalize_origin("null"), None);
        assert_eq!(
            normalize_origin("http://localhost:3000").as_deref(),
            Some("http://localhost:3000")
        );
    }
}
