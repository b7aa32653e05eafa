//! Fuzzing on the stable toolchain: proptest generates hostile inputs for every parser that takes
//! outside bytes, and drives them through the real routers in process (embedded store), with one
//! oracle for all: never a 5xx, never a panic, an answer within [`DEADLINE`]. Pure parsers get
//! unit-level targets with the oracle "no panic".
//!
//! Each target runs `FUZZ_CASES` cases (default [`DEFAULT_CASES`], bounded so the test command
//! stays quick) from the fixed seed `FUZZ_SEED` (default 18), and prints its executions;
//! `infra/scripts/fuzz.sh` runs them longer. A failing case is shrunk by proptest and printed: it
//! becomes a regression test in this file.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use base64::Engine;
use common::oauth::{Harness, TestClient};
use http::{Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Value, json};

const DEFAULT_CASES: u32 = 40;
/// The longest any one request may take before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(10);

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn seed() -> [u8; 32] {
    let n: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&n.to_le_bytes());
    s
}

/// Runs `check` on `cases()` values of `strategy`, from the fixed seed, and reports executions.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed()));
    let executions = AtomicU64::new(0);
    let t0 = Instant::now();
    let result = runner.run(&strategy, |v| {
        executions.fetch_add(1, Ordering::Relaxed);
        check(v)
    });
    let n = executions.load(Ordering::Relaxed);
    match result {
        // A line of its own: the test harness may have printed the test's name without a newline.
        Ok(()) => eprintln!(
            "\nfuzz target {name}: {n} executions, 0 panics, 0 hangs, 0 5xx in {:.1} s",
            t0.elapsed().as_secs_f64()
        ),
        Err(e) => panic!("fuzz target {name} failed after {n} executions: {e}"),
    }
}

/// The app on a fresh embedded store, with a registered client, a live refresh token and an
/// access token, so that inputs reach past the first checks.
struct World {
    rt: tokio::runtime::Runtime,
    h: Harness,
    client: TestClient,
    access: String,
    refresh: String,
    /// Answers by status, to show how deep the inputs reach.
    statuses: Mutex<std::collections::BTreeMap<u16, u64>>,
    _dir: tempfile::TempDir,
}

fn world_with(vars: &[(&str, &str)]) -> World {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (store, _, dir) = common::embedded();
    let (h, client, tokens) = rt.block_on(async {
        let h = Harness::with_config(store, vars);
        let (client, tokens) = h.tokens().await;
        (h, client, tokens)
    });
    World {
        rt,
        access: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        h,
        client,
        statuses: Mutex::default(),
        _dir: dir,
    }
}

fn world() -> World {
    world_with(&[])
}

impl Drop for World {
    fn drop(&mut self) {
        eprintln!("  answers by status: {:?}", self.statuses.lock().unwrap());
    }
}

impl World {
    /// Sends one request; fails the case on a 5xx or a missing answer within the deadline.
    fn oracle(&self, req: Request<Body>) -> Result<StatusCode, TestCaseError> {
        self.oracle_on(&self.h.router, req)
    }

    fn oracle_on(&self, router: &Router, req: Request<Body>) -> Result<StatusCode, TestCaseError> {
        let what = format!("{} {}", req.method(), req.uri());
        let reply = self
            .rt
            .block_on(async { tokio::time::timeout(DEADLINE, common::send(router, req)).await })
            .map_err(|_| TestCaseError::fail(format!("hang: {what} unanswered after {DEADLINE:?}")))?;
        *self.statuses.lock().unwrap().entry(reply.status.as_u16()).or_default() += 1;
        if std::env::var_os("FUZZ_SHOW").is_some() {
            eprintln!(
                "{what}: {} {}",
                reply.status,
                reply
                    .text()
                    .chars()
                    .rev()
                    .take(900)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
            );
        }
        if reply.status.is_server_error() {
            return Err(TestCaseError::fail(format!(
                "{what}: {} {}",
                reply.status,
                reply.text()
            )));
        }
        Ok(reply.status)
    }
}

// --- strategies -------------------------------------------------------------------------

/// Text that parsers meet: anything, printable ASCII, and values chosen to reach edge cases.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "[ -~]{0,40}",
        2 => prop::sample::select(vec![
            "", " ", "%", "%zz", "%00", "\u{0}", "\u{202e}", "a\r\nb", "null", "[]", "{}", "0", "-1",
            "99999999999999999999", "http://127.0.0.1:8765/callback", "https://localhost/cb",
            "http://localhost:3000/mcp", "javascript:alert(1)", "https://", "http://[::1]:80/x",
            "https://user:pass@localhost/", "file:///etc/passwd", "S256", "plain", "code",
            "authorization_code", "refresh_token", "client_credentials", "mcp:tools:read",
            "openid profile:read mcp:tools:execute", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "..", "Bearer", "Basic Og==",
        ])
        .prop_map(str::to_owned),
        1 => (1usize..5000).prop_map(|n| "a".repeat(n)),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A JSON object whose keys are mostly `names` (so validation gets past "unknown field").
fn object_of(names: &'static [&'static str]) -> BoxedStrategy<Value> {
    let key = prop_oneof![4 => prop::sample::select(names).prop_map(str::to_owned), 1 => text()];
    let value = prop_oneof![2 => text().prop_map(Value::String), 2 => json_value(),
        1 => prop::collection::vec(text().prop_map(Value::String), 0..4).prop_map(Value::Array)];
    prop::collection::vec((key, value), 0..10)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()))
        .boxed()
}

/// A form body: pairs over `names` (and strangers), URL-encoded, or raw bytes.
fn form(names: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    let key = prop_oneof![5 => prop::sample::select(names).prop_map(str::to_owned), 1 => text()];
    prop_oneof![
        4 => prop::collection::vec((key, text()), 0..10).prop_map(|pairs| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..400),
    ]
    .boxed()
}

/// A JWT-shaped string: JSON header and claims (mostly the expected ones), any signature.
fn jwt() -> BoxedStrategy<String> {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = prop_oneof![
        prop::sample::select(vec!["none", "HS256", "RS256", "ES256", "EdDSA", "PS256", ""])
            .prop_map(|alg| json!({"alg": alg, "typ": "JWT"})),
        object_of(&["alg", "typ", "kid", "jku", "jwk", "x5u", "crit", "b64"]),
    ];
    let claims = object_of(&[
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "scope",
        "client_id",
        "gid",
        "cid",
    ]);
    let sig = prop::collection::vec(any::<u8>(), 0..80)
        .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b));
    prop_oneof![
        4 => (header, claims, sig).prop_map(move |(h, c, s)| format!("{}.{}.{s}", b64(&h), b64(&c))),
        1 => text(),
    ]
    .boxed()
}

/// A redirect URI that registration accepts.
fn valid_redirect() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        "http://127.0.0.1:8765/callback",
        "http://localhost/cb",
        "https://localhost/callback",
        "com.example.app:/callback",
        "http://[::1]:9000/",
    ])
    .prop_map(str::to_owned)
    .boxed()
}

/// A URI-shaped string: a scheme, a host, a port, a path, a query and a fragment, each sometimes odd.
fn uri() -> BoxedStrategy<String> {
    let scheme = prop::sample::select(vec![
        "https",
        "http",
        "com.example.app",
        "javascript",
        "data",
        "file",
        "",
        "HTTPS",
    ]);
    // Loopback only: a client id or jwks_uri that is a URL gets fetched, and the tests send
    // nothing off this machine (not even a DNS query for a made-up name).
    let host = prop::sample::select(vec![
        "localhost",
        "127.0.0.1",
        "[::1]",
        "LOCALHOST",
        "localhost.",
        "",
        "a..b",
        "user@localhost",
        "localhost:0",
        "xn--",
        "%6c%6f%63%61%6c%68%6f%73%74",
    ]);
    let port = prop::option::of(any::<u16>());
    let rest = (
        "[ -~]{0,20}",
        prop::option::of("[ -~]{0,12}"),
        prop::option::of("[ -~]{0,8}"),
    );
    prop_oneof![
        4 => (scheme, host, port, rest).prop_map(|(s, h, p, (path, q, f))| {
            let mut u = format!("{s}://{h}");
            if let Some(p) = p { u.push_str(&format!(":{p}")); }
            u.push('/');
            u.push_str(&path);
            if let Some(q) = q { u.push('?'); u.push_str(&q); }
            if let Some(f) = f { u.push('#'); u.push_str(&f); }
            u
        }),
        1 => text(),
    ]
    .boxed()
}

fn form_request(path: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::post(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Body::from(body)).unwrap()
}

fn content_type() -> BoxedStrategy<Option<&'static str>> {
    prop_oneof![
        6 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(Some("application/json")),
        1 => Just(Some("application/x-www-form-urlencoded; charset=utf-16")),
        1 => Just(Some("multipart/form-data; boundary=x")),
        1 => Just(None),
    ]
    .boxed()
}

const TOKEN_FIELDS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "resource",
    "scope",
    "client_assertion",
    "client_assertion_type",
];

/// The form with the world's own client id, refresh token and redirect sometimes substituted in.
fn with_world_values(w: &World, body: Vec<u8>, fill: u8) -> Vec<u8> {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    if fill & 1 != 0 {
        pairs.push(("client_id".into(), w.client.id.clone()));
    }
    if fill & 2 != 0 {
        pairs.push(("refresh_token".into(), w.refresh.clone()));
    }
    if fill & 4 != 0 {
        pairs.push(("redirect_uri".into(), w.client.redirect_uri.clone()));
    }
    if fill & 8 != 0 {
        pairs.push(("token".into(), w.access.clone()));
    }
    if fill == 0 {
        return body;
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

// --- router-level targets ---------------------------------------------------------------

#[test]
fn fuzz_token_endpoint_forms() {
    let w = world();
    // Near-valid forms too: a real grant type, so the checks past the first one are reached.
    let grant = prop::sample::select(vec!["authorization_code", "refresh_token", "client_credentials"]);
    let near = (grant, form(TOKEN_FIELDS)).prop_map(|(g, body)| {
        let mut body = body;
        body.splice(0..0, format!("grant_type={g}&").into_bytes());
        body
    });
    let body = prop_oneof![form(TOKEN_FIELDS), near];
    fuzz("token form", (body, content_type(), any::<u8>()), |(body, ct, fill)| {
        let body = with_world_values(&w, body, fill);
        w.oracle(form_request("/api/oauth/token", ct, body)).map(drop)
    });
}

#[test]
fn fuzz_revocation_forms() {
    let w = world();
    fuzz(
        "revoke form",
        (
            form(&["token", "token_type_hint", "client_id", "client_secret"]),
            content_type(),
            any::<u8>(),
        ),
        |(body, ct, fill)| {
            let body = with_world_values(&w, body, fill & 0b1001);
            w.oracle(form_request("/api/oauth/revoke", ct, body)).map(drop)
        },
    );
}

const METADATA_FIELDS: &[&str] = &[
    "client_name",
    "redirect_uris",
    "grant_types",
    "response_types",
    "token_endpoint_auth_method",
    "scope",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "contacts",
    "software_id",
    "software_version",
    "jwks",
    "jwks_uri",
    "client_id",
    "client_secret",
    "application_type",
];

#[test]
fn fuzz_registration_metadata() {
    let w = world();
    let body = prop_oneof![
        5 => object_of(METADATA_FIELDS).prop_map(|v| v.to_string().into_bytes()),
        2 => (text(), prop::collection::vec(prop_oneof![uri(), valid_redirect()], 0..3), object_of(METADATA_FIELDS)).prop_map(|(name, uris, mut extra)| {
            extra["client_name"] = json!(name);
            extra["redirect_uris"] = json!(uris);
            extra.to_string().into_bytes()
        }),
        2 => (valid_redirect(), prop::sample::select(METADATA_FIELDS), json_value()).prop_map(|(uri, field, value)| {
            let mut doc = json!({"client_name": "Fuzz", "redirect_uris": [uri]});
            doc[field] = value;
            doc.to_string().into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..400),
    ];
    let ct = prop_oneof![4 => Just(Some("application/json")), 1 => content_type()];
    fuzz("registration metadata", (body, ct), |(body, ct)| {
        w.oracle(form_request("/api/oauth/register", ct, body)).map(drop)
    });
}

const AUTHORIZE_FIELDS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "state",
    "resource",
    "scope",
    "prompt",
    "login_hint",
    "action",
    "csrf",
    "email",
    "password",
    "code",
    "request",
    "request_uri",
    "response_mode",
    "nonce",
];

#[test]
fn fuzz_authorize_parameters() {
    let w = world();
    let get_or_post = any::<bool>();
    fuzz(
        "authorize parameters",
        (form(AUTHORIZE_FIELDS), any::<u8>(), get_or_post, uri()),
        |(body, fill, get, uri)| {
            let mut body = with_world_values(&w, body, fill & 0b101);
            if fill & 0x10 != 0 {
                body.extend_from_slice(format!("&resource={}", urlencode(&uri)).as_bytes());
            }
            let req = if get {
                let query = String::from_utf8_lossy(&body).into_owned();
                match Request::get(format!("/oauth/authorize?{query}")).body(Body::empty()) {
                    Ok(r) => r,
                    Err(_) => return Ok(()), // not a URI at all: no request reaches the server
                }
            } else {
                form_request("/oauth/authorize", Some("application/x-www-form-urlencoded"), body)
            };
            w.oracle(req).map(drop)
        },
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn fuzz_redirect_uris_and_resource_indicators() {
    let w = world();
    fuzz(
        "redirect URIs and resources",
        (prop::collection::vec(uri(), 1..4), uri(), uri()),
        |(uris, presented, resource)| {
            let reg = json!({"client_name": "Fuzz", "redirect_uris": uris});
            w.oracle(form_request(
                "/api/oauth/register",
                Some("application/json"),
                reg.to_string().into_bytes(),
            ))?;
            let mut client = w.client.clone();
            client.redirect_uri = presented.clone();
            let url = Harness::authorize_url(&client, &[("resource", &resource)]);
            if let Ok(req) = Request::get(url).body(Body::empty()) {
                w.oracle(req)?;
            }
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("grant_type", "refresh_token"),
                    ("client_id", &w.client.id),
                    ("refresh_token", "nonsense.value"),
                    ("resource", &resource),
                ])
                .finish();
            w.oracle(form_request(
                "/api/oauth/token",
                Some("application/x-www-form-urlencoded"),
                body.into_bytes(),
            ))
            .map(drop)
        },
    );
}

const METHODS: &[&str] = &[
    "initialize",
    "notifications/initialized",
    "ping",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "completion/complete",
    "logging/setLevel",
    "notifications/cancelled",
    "server/discover",
    "subscriptions/listen",
];

fn jsonrpc_message() -> BoxedStrategy<Value> {
    let id = prop_oneof![
        Just(json!(1)),
        any::<i64>().prop_map(|n| json!(n)),
        text().prop_map(Value::String),
        json_value()
    ];
    let method = prop_oneof![4 => prop::sample::select(METHODS).prop_map(str::to_owned), 1 => text()];
    let params = prop_oneof![
        2 => object_of(&["name", "arguments", "uri", "cursor", "protocolVersion", "capabilities",
            "clientInfo", "requestState", "inputResponses", "_meta", "level", "ref", "argument"]),
        1 => (text(), object_of(&["text", "a", "b", "note", "id"]), text(), json_value()).prop_map(|(name, args, state, responses)| {
            json!({"name": name, "arguments": args, "requestState": state, "inputResponses": responses})
        }),
        1 => json_value(),
    ];
    (
        prop::option::of(id),
        method,
        prop::option::of(params),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(id, method, params, v2)| {
            let mut m = json!({"method": method});
            if v2 {
                m["jsonrpc"] = json!("2.0");
            }
            if let Some(id) = id {
                m["id"] = id;
            }
            if let Some(p) = params {
                m["params"] = p;
            }
            m
        })
        .boxed()
}

#[test]
fn fuzz_jsonrpc_messages_and_batches() {
    let w = world();
    let body = prop_oneof![
        5 => jsonrpc_message().prop_map(|m| m.to_string().into_bytes()),
        2 => prop::collection::vec(jsonrpc_message(), 0..6).prop_map(|b| Value::Array(b).to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ];
    let version = prop::sample::select(vec!["2025-11-25", "2025-06-18", "2026-07-28", "1999-01-01", ""]);
    let accept = prop::sample::select(vec![
        "application/json, text/event-stream",
        "application/json",
        "*/*",
        "",
    ]);
    fuzz(
        "JSON-RPC messages",
        (body, version, accept),
        |(body, version, accept)| {
            let mut b = Request::post("/mcp")
                .header("authorization", format!("Bearer {}", w.access))
                .header("content-type", "application/json");
            if !version.is_empty() {
                b = b.header("mcp-protocol-version", version);
            }
            if !accept.is_empty() {
                b = b.header("accept", accept);
            }
            w.oracle(b.body(Body::from(body)).unwrap()).map(drop)
        },
    );
}

#[test]
fn fuzz_authorization_headers_and_jwts() {
    let w = world();
    let value = prop_oneof![
        3 => jwt().prop_map(|t| format!("Bearer {t}")),
        1 => (prop::sample::select(vec!["Bearer", "bearer", "DPoP", "Basic", "", "Bearer  "]), text())
            .prop_map(|(s, t)| format!("{s} {t}")),
        1 => (text(), text()).prop_map(|(u, p)| format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )),
        1 => prop::collection::vec(any::<u8>(), 0..120).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    let target = prop::sample::select(vec![
        "/mcp",
        "/api/oauth/token",
        "/api/oauth/introspect",
        "/api/oauth/revoke",
    ]);
    fuzz("Authorization headers and JWTs", (value, target), |(value, target)| {
        let Ok(header) = http::HeaderValue::from_str(&value) else {
            return Ok(());
        };
        let body = if target == "/mcp" {
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string()
        } else {
            format!("grant_type=client_credentials&token={}", urlencode(&value))
        };
        let ct = if target == "/mcp" {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let req = Request::post(target)
            .header("authorization", header)
            .header("content-type", ct)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(Body::from(body))
            .unwrap();
        w.oracle(req).map(drop)
    });
}

#[test]
fn fuzz_cookies() {
    let w = world();
    let name = prop_oneof![
        4 => prop::sample::select(vec!["__Host-session", "__Host-csrf", "__Host-verify", "__Host-invite", "__Host-upstream"]).prop_map(str::to_owned),
        1 => text(),
    ];
    let value = prop_oneof![
        2 => "[A-Za-z0-9_-]{43}",
        2 => text(),
        1 => prop::collection::vec(any::<u8>(), 0..60).prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
    ];
    let path = prop::sample::select(vec![
        "/account",
        "/oauth/authorize",
        "/oauth/logout",
        "/oauth/reset",
        "/oauth/invite",
    ]);
    fuzz(
        "cookies",
        (prop::collection::vec((name, value), 0..5), path, any::<bool>()),
        |(cookies, path, post)| {
            let header = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let Ok(header) = http::HeaderValue::from_str(&header) else {
                return Ok(());
            };
            let uri = if path == "/oauth/authorize" {
                Harness::authorize_url(&w.client, &[])
            } else {
                path.to_owned()
            };
            let req = if post {
                Request::post(uri)
                    .header("cookie", header)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(format!("action=approve&client_id={}", w.client.id)))
            } else {
                Request::get(uri).header("cookie", header).body(Body::empty())
            };
            w.oracle(req.unwrap()).map(drop)
        },
    );
}

/// Client metadata documents (CIMD): the client id is a URL on loopback where a small server
/// hands out the generated document; each case uses a fresh URL, so none comes from the cache.
#[test]
fn fuzz_client_metadata_documents() {
    let w = world_with(&[("CIMD_ALLOW_LOOPBACK", "1")]);
    let current: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let served = current.clone();
    let base = w.rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let app = Router::new().route(
            "/c/{n}",
            axum::routing::get(move || {
                let body = served.lock().unwrap().clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    });
    let counter = AtomicU64::new(0);
    let doc = prop_oneof![
        4 => (object_of(METADATA_FIELDS), any::<bool>(), prop::collection::vec(uri(), 0..3)).prop_map(|(mut v, own_id, uris)| {
            if own_id {
                v["client_id"] = json!("{url}");
            }
            if !uris.is_empty() {
                v["redirect_uris"] = json!(uris);
            }
            v.to_string().into_bytes()
        }),
        3 => (prop::sample::select(METADATA_FIELDS), json_value()).prop_map(|(field, value)| {
            // A valid document with one field replaced.
            let mut v = json!({"client_id": "{url}", "client_name": "Doc", "redirect_uris": ["http://127.0.0.1:8765/callback"], "token_endpoint_auth_method": "none"});
            v[field] = value;
            v.to_string().into_bytes()
        }),
        2 => (text(), json_value(), text()).prop_map(|(key, value, name)| {
            // A valid document with a stranger field and any name.
            let mut v = json!({"client_id": "{url}", "client_name": name, "redirect_uris": ["http://127.0.0.1:8765/callback"], "token_endpoint_auth_method": "none"});
            v[format!("x-{key}")] = value;
            v.to_string().into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ];
    fuzz("client metadata documents", doc, |doc| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let url = format!("{base}/c/{n}");
        let doc = String::from_utf8_lossy(&doc).replace("{url}", &url).into_bytes();
        if std::env::var_os("FUZZ_SHOW").is_some() {
            eprintln!("document: {}", String::from_utf8_lossy(&doc));
        }
        *current.lock().unwrap() = doc;
        let mut client = w.client.clone();
        client.id = url;
        client.redirect_uri = "http://127.0.0.1:8765/callback".into();
        w.oracle(
            Request::get(Harness::authorize_url(&client, &[]))
                .body(Body::empty())
                .unwrap(),
        )
        .map(drop)
    });
}

/// private_key_jwt client assertions (RFC 7523) at the token endpoint, claiming the world's client
/// or a stranger.
#[test]
fn fuzz_client_assertions() {
    let w = world();
    fuzz(
        "client assertions",
        (
            jwt(),
            any::<bool>(),
            prop::sample::select(vec!["authorization_code", "refresh_token", "client_credentials"]),
        ),
        |(assertion, with_id, grant)| {
            let mut pairs = vec![
                ("grant_type", grant.to_owned()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ),
                ("client_assertion", assertion),
                ("refresh_token", w.refresh.clone()),
            ];
            if with_id {
                pairs.push(("client_id", w.client.id.clone()));
            }
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            w.oracle(form_request(
                "/api/oauth/token",
                Some("application/x-www-form-urlencoded"),
                body.into_bytes(),
            ))
            .map(drop)
        },
    );
}

// --- unit-level targets: pure parsers, oracle "no panic" -------------------------------------

#[test]
fn fuzz_pure_parsers() {
    use mcp_oauth::clients::{assertion, document, redirect_uri};
    let catalog = catalog::catalog();
    let scopes = catalog.scopes();
    fuzz(
        "pure parsers",
        (
            prop::collection::vec(any::<u8>(), 0..300),
            text(),
            uri(),
            uri(),
            json_value(),
            object_of(METADATA_FIELDS),
            jwt(),
        ),
        |(bytes, s, u1, u2, any_json, metadata, token)| {
            let _ = mcp_oauth::form::Params::parse(&bytes);
            let _ = scopes.parse(Some(&s));
            let _ = redirect_uri::check(&u1);
            let _ = redirect_uri::check_web_url(&u1);
            let _ = redirect_uri::matches(&u1, &u2);
            let _ = document::is_document_id(&u1, true);
            let _ = document::is_document_id(&u1, false);
            let _ = mcp_oauth::clients::metadata::parse(metadata);
            let _ = mcp_oauth::clients::metadata::parse(any_json.clone());
            let _ = assertion::check_jwks(&any_json);
            let _ = assertion::check_jwks(&json!({"keys": [any_json]}));
            let _ = assertion::claimed_client(&token);
            let _ = assertion::claimed_client(&s);
            let mut headers = http::HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(&s) {
                headers.insert("cookie", v);
            }
            let _ = mcp_oauth::http::token_cookie(&headers, "__Host-session");
            Ok(())
        },
    );
}
