//! The `/mcp` endpoint end to end, in process: Streamable HTTP (Origin, methods, content types,
//! body size, 202 for notifications, no sessions), bearer authentication and scope challenges,
//! and the JSON-RPC rules of each protocol revision from 2025-03-26 to 2026-07-28. Tokens come
//! from the real OAuth flow.

mod common;
mod mcp_support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oauth::{Harness, ISSUER, RESOURCE};
use common::{Reply, embedded, send};
use http::{Request, StatusCode};
use mcp_oauth::store::Store;
use mcp_support::*;
use serde_json::{Value, json};

const PRM: &str = "http://localhost:3000/.well-known/oauth-protected-resource/mcp";

async fn session_with(store: Store, vars: &[(&str, &str)], scope: &str) -> Session {
    Session::new(Harness::with_config(store, vars), scope).await
}

async fn session(store: Store) -> Session {
    session_with(store, &[], ALL_SCOPES).await
}

fn error_code(reply: &Reply) -> i64 {
    reply.json()["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no JSON-RPC error: {}", reply.text()))
}

fn www_authenticate(reply: &Reply) -> String {
    reply
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate ({})", reply.status))
        .to_owned()
}

fn assert_invalid_token(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    let www = www_authenticate(reply);
    assert!(www.starts_with("Bearer "), "{www}");
    assert!(www.contains(r#"error="invalid_token""#), "{www}");
    assert!(www.contains(&format!(r#"resource_metadata="{PRM}""#)), "{www}");
}

// ---- Streamable HTTP ----

#[tokio::test]
async fn unauthenticated_get_is_401_with_the_challenge() {
    let (store, _, _dir) = embedded();
    let h = Harness::new(store);
    let reply = h.call(common::get("/mcp")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let www = www_authenticate(&reply);
    assert!(www.starts_with("Bearer "), "{www}");
    assert!(www.contains(&format!(r#"resource_metadata="{PRM}""#)), "{www}");
    assert!(
        www.contains(r#"scope="mcp:tools:read mcp:tools:execute profile:read""#),
        "{www}"
    );
    assert!(!www.contains("offline_access"), "{www}");
}

#[tokio::test]
async fn unauthenticated_post_is_401_before_the_body_is_read() {
    let (store, _, _dir) = embedded();
    let h = Harness::new(store);
    let init = rpc(1, "initialize", json!({"protocolVersion": LEGACY, "capabilities": {}}));
    let reply = h.call(post(None, &init, &[])).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(www_authenticate(&reply).contains(PRM));
    // Not even a malformed body gets past the missing token.
    let reply = h.call(post_raw(None, "{not json", &[])).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn get_is_405_after_authentication() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let req = Request::get("/mcp")
        .header("authorization", format!("Bearer {}", s.token))
        .body(Default::default())
        .unwrap();
    let reply = s.send(req).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{}", reply.text());
    assert_eq!(reply.header("allow"), Some("POST"));
}

#[tokio::test]
async fn delete_is_405_after_authentication() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let req = Request::delete("/mcp")
        .header("authorization", format!("Bearer {}", s.token))
        .header("mcp-session-id", "anything")
        .body(Default::default())
        .unwrap();
    let reply = s.send(req).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("POST"));
}

#[tokio::test]
async fn bad_origin_is_403() {
    let (store, _, _dir) = embedded();
    let s = session_with(store, &[("ALLOWED_ORIGINS", "https://app.example.com")], ALL_SCOPES).await;
    for origin in [
        "https://evil.example",
        "null",
        "http://localhost:3001",
        "https://app.example.com.evil.example",
    ] {
        let reply = s
            .send(post(Some(&s.token), &rpc(1, "ping", json!({})), &[("origin", origin)]))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{origin}");
        let body = reply.json();
        assert_eq!(body["error"]["code"], -32600, "{origin}");
        assert!(body.get("id").is_none(), "{origin}: a transport error has no id");
    }
    // Refused before authentication: a hostile page learns nothing about tokens.
    let reply = s
        .send(post(
            None,
            &rpc(1, "ping", json!({})),
            &[("origin", "https://evil.example")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn own_and_allowed_origins_are_accepted() {
    let (store, _, _dir) = embedded();
    let s = session_with(store, &[("ALLOWED_ORIGINS", "https://app.example.com")], ALL_SCOPES).await;
    for origin in [
        "http://localhost:3000",
        "https://app.example.com",
        "HTTPS://APP.EXAMPLE.COM:443",
    ] {
        let reply = s
            .send(post(Some(&s.token), &rpc(1, "ping", json!({})), &[("origin", origin)]))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{origin}: {}", reply.text());
    }
}

#[tokio::test]
async fn allowed_origin_gets_a_cors_preflight_answer_and_others_do_not() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("ALLOWED_ORIGINS", "https://app.example.com")]);
    let preflight = |origin: &str| {
        Request::options("/mcp")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version",
            )
            .body(Default::default())
            .unwrap()
    };
    let ok = h.call(preflight("https://app.example.com")).await;
    assert!(ok.status.is_success(), "{}", ok.status);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        ok.header("access-control-allow-headers")
            .unwrap_or_default()
            .contains("authorization")
    );
    let refused = h.call(preflight("https://evil.example")).await;
    assert!(refused.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn request_without_origin_is_accepted() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let reply = s.legacy("ping", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn notification_is_202_with_empty_body() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for version in [V2025_03_26, LEGACY, MODERN] {
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let reply = s
            .send(post(Some(&s.token), &note, &[("mcp-protocol-version", version)]))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{version}");
        assert!(reply.body.is_empty(), "{version}: {}", reply.text());
    }
}

#[tokio::test]
async fn no_session_id_is_issued() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let init = rpc(
        1,
        "initialize",
        json!({"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let reply = s.send(post(Some(&s.token), &init, &[])).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("mcp-session-id").is_none());
    // A session id sent by a client is ignored, not echoed.
    let reply = s
        .send(post(
            Some(&s.token),
            &rpc(2, "ping", json!({})),
            &[("mcp-session-id", "abc")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("mcp-session-id").is_none());
}

#[tokio::test]
async fn oversize_body_is_refused() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let text = "x".repeat(mcp_oauth::endpoints::mcp::MAX_BODY);
    let body = rpc(
        1,
        "tools/call",
        json!({"name": "notes_add", "arguments": {"text": text}}),
    );
    let reply = s.send(post(Some(&s.token), &body, &[])).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["error"]["code"], -32600);
    let listed = s.call_tool("notes_list", json!({})).await;
    assert_eq!(listed["structuredContent"]["notes"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let mut req = post(Some(&s.token), &rpc(1, "ping", json!({})), &[]);
    req.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    let reply = s.send(req).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn accept_without_json_or_event_stream_is_406() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let mut req = post(Some(&s.token), &rpc(1, "ping", json!({})), &[]);
    req.headers_mut().insert("accept", "text/html".parse().unwrap());
    assert_eq!(s.send(req).await.status, StatusCode::NOT_ACCEPTABLE);
    // A client that takes only the stream gets the answer as one complete SSE body.
    let mut req = post(Some(&s.token), &rpc(1, "ping", json!({})), &[]);
    req.headers_mut().insert("accept", "text/event-stream".parse().unwrap());
    let reply = s.send(req).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        reply.text(),
        "event: message\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{}}\n\n"
    );
}

// ---- Authentication ----

fn claims(aud: &str, now: i64) -> Value {
    json!({
        "iss": ISSUER, "sub": "user-1", "aud": aud, "client_id": "client-1",
        "scope": ALL_SCOPES, "iat": now, "nbf": now, "exp": now + 3600, "jti": "j1",
    })
}

async fn first_key(h: &Harness) -> (String, String) {
    // Publishing never creates a key: the token function's signer does.
    h.state.keys.signer().await.expect("signer");
    let jwks = h.state.keys.jwks().await.expect("jwks");
    let key = &jwks["keys"][0];
    (
        key["kid"].as_str().unwrap().to_owned(),
        key["x"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn wrong_audience_token_is_401() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let scope = vec!["mcp:tools:read".to_owned()];
    let grant = mcp_oauth::tokens::access::AccessGrant {
        issuer: ISSUER,
        user_id: "user-1",
        client_id: "client-1",
        resource: "https://other.example/mcp",
        scope: &scope,
        grant_ref: None,
        machine: false,
    };
    let now = s.h.store.clock().now();
    let (jwt, _) = mcp_oauth::tokens::access::mint(&s.h.state.keys, &grant, now, 3600)
        .await
        .unwrap();
    let reply = s.send(post(Some(&jwt), &rpc(1, "tools/list", json!({})), &[])).await;
    assert_invalid_token(&reply);
    // The same mint for our own resource passes: only the audience differed.
    let grant = mcp_oauth::tokens::access::AccessGrant {
        resource: RESOURCE,
        ..grant
    };
    let (jwt, _) = mcp_oauth::tokens::access::mint(&s.h.state.keys, &grant, now, 3600)
        .await
        .unwrap();
    let reply = s.send(post(Some(&jwt), &rpc(1, "tools/list", json!({})), &[])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn hs256_signed_token_is_401() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let (kid, x) = first_key(&s.h).await;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid);
    header.typ = Some("at+jwt".into());
    let now = s.h.store.clock().now();
    // The classic confusion: the public key's bytes used as an HMAC secret.
    let key = jsonwebtoken::EncodingKey::from_secret(x.as_bytes());
    let jwt = jsonwebtoken::encode(&header, &claims(RESOURCE, now), &key).unwrap();
    assert_invalid_token(&s.send(post(Some(&jwt), &rpc(1, "tools/list", json!({})), &[])).await);
}

#[tokio::test]
async fn none_alg_token_is_401() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let (kid, _) = first_key(&s.h).await;
    let now = s.h.store.clock().now();
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": kid});
    let jwt = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims(RESOURCE, now).to_string())
    );
    assert_invalid_token(&s.send(post(Some(&jwt), &rpc(1, "tools/list", json!({})), &[])).await);
}

#[tokio::test]
async fn expired_token_is_401_with_invalid_token() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    assert_eq!(s.legacy("ping", json!({})).await.status, StatusCode::OK);
    let ttl = s.h.state.config.lifetimes.access_token;
    s.h.store.clock().advance(ttl + mcp_oauth::mcp::auth::LEEWAY as i64 + 1);
    let reply = s.legacy("ping", json!({})).await;
    assert_invalid_token(&reply);
    assert!(
        www_authenticate(&reply).contains("expired"),
        "{}",
        www_authenticate(&reply)
    );
}

#[tokio::test]
async fn token_in_query_string_is_refused() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let body = rpc(1, "ping", json!({})).to_string();
    for with_header in [false, true] {
        let mut req = Request::post(format!("/mcp?access_token={}", s.token))
            .header("content-type", "application/json")
            .header("accept", ACCEPT);
        if with_header {
            req = req.header("authorization", format!("Bearer {}", s.token));
        }
        let reply = s.send(req.body(body.clone().into()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "header too: {with_header}");
        assert!(www_authenticate(&reply).contains(r#"error="invalid_request""#));
    }
}

#[tokio::test]
async fn missing_scope_is_403_with_insufficient_scope_challenge() {
    let (store, _, _dir) = embedded();
    let s = session_with(store, &[], "mcp:tools:read").await;
    let reply = s
        .legacy("tools/call", json!({"name": "notes_list", "arguments": {}}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let www = www_authenticate(&reply);
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(www.contains(r#"scope="mcp:tools:read mcp:tools:execute""#), "{www}");
    assert!(www.contains(&format!(r#"resource_metadata="{PRM}""#)), "{www}");
    // Listing needs only the read scope this token has.
    assert_eq!(s.legacy("tools/list", json!({})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_tool_scope_the_token_lacks_is_403_naming_every_needed_scope() {
    let (store, _, _dir) = embedded();
    let s = session_with(store, &[], "mcp:tools:read mcp:tools:execute").await;
    let reply = s.legacy("tools/call", json!({"name": "whoami", "arguments": {}})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let www = www_authenticate(&reply);
    assert!(
        www.contains(r#"scope="mcp:tools:read mcp:tools:execute profile:read""#),
        "{www}"
    );
}

#[tokio::test]
async fn listing_without_the_read_scope_is_403() {
    let (store, _, _dir) = embedded();
    let s = session_with(store, &[], "mcp:tools:execute").await;
    let reply = s.legacy("tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(www_authenticate(&reply).contains("mcp:tools:read"));
    // initialize and ping need only a valid token.
    assert_eq!(s.legacy("ping", json!({})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_batch_asking_for_a_missing_scope_runs_nothing() {
    let (store, _, _dir) = embedded();
    let s = session_with(store, &[], "mcp:tools:read mcp:tools:execute").await;
    let batch = json!([
        rpc(
            1,
            "tools/call",
            json!({"name": "notes_add", "arguments": {"text": "must not be saved"}})
        ),
        rpc(2, "tools/call", json!({"name": "whoami", "arguments": {}})),
    ]);
    let reply = s.send(post(Some(&s.token), &batch, &[])).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let listed = s.call_tool("notes_list", json!({})).await;
    assert_eq!(listed["structuredContent"]["notes"], json!([]));
}

#[tokio::test]
async fn tools_list_makes_zero_store_calls_when_warm() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    assert_eq!(s.legacy("tools/list", json!({})).await.status, StatusCode::OK);
    let before = s.h.store.calls();
    let legacy = s.legacy("tools/list", json!({})).await;
    let modern = s.modern("tools/list", json!({})).await;
    assert_eq!(
        (legacy.status, modern.status),
        (StatusCode::OK, StatusCode::OK),
        "{}",
        modern.text()
    );
    assert_eq!(
        s.h.store.calls(),
        before,
        "an authenticated tools/list on a warm function reads no store"
    );
}

#[tokio::test]
async fn a_cold_function_reads_its_keys_once() {
    let (store, _, _dir) = embedded();
    let s = session(store.clone()).await;
    // A fresh state is a cold Lambda: empty key cache.
    let cold = Harness::new(store);
    let before = cold.store.calls();
    let req = || {
        post(
            Some(&s.token),
            &rpc(1, "tools/list", json!({})),
            &[("mcp-protocol-version", LEGACY)],
        )
    };
    assert_eq!(send(&cold.router, req()).await.status, StatusCode::OK);
    assert_eq!(
        cold.store.calls(),
        before + 2,
        "one key query and one look at the grant (tokens::liveness) on a cold start"
    );
    assert_eq!(send(&cold.router, req()).await.status, StatusCode::OK);
    assert_eq!(cold.store.calls(), before + 2, "none once warm");
}

// ---- JSON-RPC ----

#[tokio::test]
async fn parse_error_is_32700() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let reply = s
        .send(post_raw(
            Some(&s.token),
            r#"{"jsonrpc": "2.0", "id": 1, "method": "#,
            &[],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = reply.json();
    assert_eq!(body["error"]["code"], -32700);
    assert!(body.get("id").is_none());
}

#[tokio::test]
async fn invalid_request_is_32600() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for (body, id) in [
        (json!({"jsonrpc": "1.0", "id": 5, "method": "ping"}), Some(json!(5))),
        (json!({"jsonrpc": "2.0", "id": 6, "method": 42}), Some(json!(6))),
        (json!({"jsonrpc": "2.0", "id": null, "method": "ping"}), None),
        (json!("ping"), None),
    ] {
        let reply = s
            .send(post(Some(&s.token), &body, &[("mcp-protocol-version", LEGACY)]))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let answer = reply.json();
        assert_eq!(answer["error"]["code"], -32600, "{body}");
        assert_eq!(answer.get("id").cloned(), id, "{body}");
    }
}

#[tokio::test]
async fn unknown_method_is_32601() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let reply = s.legacy("widgets/list", json!({})).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "an ordinary JSON-RPC error before 2026-07-28"
    );
    assert_eq!(error_code(&reply), -32601);
    assert_eq!(reply.json()["id"], 1);
    let reply = s.modern("widgets/list", json!({})).await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "2026-07-28 answers an unknown method with 404"
    );
    assert_eq!(error_code(&reply), -32601);
    assert_eq!(reply.json()["id"], 1);
}

#[tokio::test]
async fn initialize_and_ping_do_not_exist_under_2026_07_28() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let reply = s.modern("initialize", json!({"protocolVersion": MODERN})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&reply), -32601);
    assert!(
        reply.json()["error"]["data"]["supported"]
            .as_array()
            .is_some_and(|v| v.contains(&json!(LEGACY)))
    );
    let reply = s.modern("ping", json!({})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&reply), -32601);
    // And server/discover does not exist before it.
    assert_eq!(error_code(&s.legacy("server/discover", json!({})).await), -32601);
}

#[tokio::test]
async fn unknown_tool_is_invalid_params() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let reply = s
        .legacy("tools/call", json!({"name": "no_such_tool", "arguments": {}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(error_code(&reply), -32602);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_tool")
    );
    for bad in [
        json!({}),
        json!({"name": 7}),
        json!({"name": "notes_list", "arguments": "x"}),
    ] {
        assert_eq!(error_code(&s.legacy("tools/call", bad.clone()).await), -32602, "{bad}");
    }
}

#[tokio::test]
async fn tool_failure_is_an_is_error_result() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let result = s.call_tool("notes_add", json!({"text": "   "})).await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(text(&result).contains("needs some text"), "{result}");
    let ok = s.call_tool("notes_add", json!({"text": "hello"})).await;
    assert_eq!(ok["isError"], false, "{ok}");
}

#[tokio::test]
async fn invalid_arguments_are_invalid_params_before_2025_11_25_and_a_tool_error_from_it() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let params = json!({"name": "notes_add", "arguments": {"txt": "typo"}});
    for version in [V2025_03_26, "2025-06-18"] {
        let reply = s.legacy_as(version, "tools/call", params.clone()).await;
        assert_eq!(error_code(&reply), -32602, "{version}");
    }
    for version in [LEGACY] {
        let reply = s.legacy_as(version, "tools/call", params.clone()).await;
        let result = &reply.json()["result"];
        assert_eq!(result["isError"], true, "{version}: {result}");
        assert!(text(result).contains("Invalid arguments"), "{result}");
    }
    let reply = s.modern("tools/call", params).await;
    assert_eq!(reply.json()["result"]["isError"], true, "{}", reply.text());
}

// ---- Versions ----

#[tokio::test]
async fn initialize_negotiates_each_supported_version() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for version in [V2025_03_26, "2025-06-18", LEGACY] {
        let init = rpc(
            1,
            "initialize",
            json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        let reply = s.send(post(Some(&s.token), &init, &[])).await;
        assert_eq!(reply.status, StatusCode::OK, "{version}: {}", reply.text());
        let result = &reply.json()["result"];
        assert_eq!(result["protocolVersion"], version);
        assert_eq!(
            result["capabilities"],
            json!({"tools": {"listChanged": false}, "resources": {}, "prompts": {}, "completions": {}})
        );
        assert_eq!(result["serverInfo"]["name"], "mcp-oauth");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(result["instructions"].as_str().is_some_and(|i| !i.is_empty()));
        assert!(
            result.get("resultType").is_none(),
            "{version}: resultType is a 2026-07-28 field"
        );
    }
}

#[tokio::test]
async fn initialize_with_an_unknown_version_answers_the_latest() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for asked in ["1999-01-01", "2024-11-05", MODERN] {
        let init = rpc(
            1,
            "initialize",
            json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        let reply = s.send(post(Some(&s.token), &init, &[])).await;
        assert_eq!(
            reply.json()["result"]["protocolVersion"],
            LEGACY,
            "{asked}: the latest revision with initialize"
        );
    }
    let reply = s
        .send(post(
            Some(&s.token),
            &rpc(1, "initialize", json!({"capabilities": {}})),
            &[],
        ))
        .await;
    assert_eq!(error_code(&reply), -32602, "protocolVersion is required");
}

#[tokio::test]
async fn batch_is_accepted_under_2025_03_26() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let batch = json!([
        rpc(1, "ping", json!({})),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        rpc(2, "tools/list", json!({})),
        rpc(3, "initialize", json!({"protocolVersion": V2025_03_26})),
        {"jsonrpc": "2.0", "id": 4},
    ]);
    for headers in [&[][..], &[("mcp-protocol-version", V2025_03_26)][..]] {
        let reply = s.send(post(Some(&s.token), &batch, headers)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let answers = reply.json();
        let answers = answers.as_array().expect("a batch response");
        let by_id = |id: i64| {
            answers
                .iter()
                .find(|a| a["id"] == id)
                .unwrap_or_else(|| panic!("no answer to {id}"))
        };
        assert_eq!(answers.len(), 4, "one answer per request, none for the notification");
        assert_eq!(by_id(1)["result"], json!({}));
        assert!(by_id(2)["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()));
        assert_eq!(by_id(3)["error"]["code"], -32600, "initialize must not be batched");
        assert_eq!(by_id(4)["error"]["code"], -32600);
    }
    let only_notes = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let reply = s.send(post(Some(&s.token), &only_notes, &[])).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert!(reply.body.is_empty());
    let reply = s.send(post(Some(&s.token), &json!([]), &[])).await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::BAD_REQUEST, -32600));
}

#[tokio::test]
async fn batch_is_rejected_under_later_revisions() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let batch = json!([rpc(1, "ping", json!({})), rpc(2, "tools/list", json!({}))]);
    for version in ["2025-06-18", LEGACY, MODERN] {
        let reply = s
            .send(post(Some(&s.token), &batch, &[("mcp-protocol-version", version)]))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{version}");
        assert_eq!(error_code(&reply), -32600, "{version}");
    }
}

#[tokio::test]
async fn unsupported_protocol_version_header_is_400() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for version in ["1999-01-01", "2024-11-05", "v999.0.0"] {
        let reply = s
            .send(post(
                Some(&s.token),
                &rpc(9, "tools/list", json!({})),
                &[("mcp-protocol-version", version)],
            ))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{version}");
        let body = reply.json();
        assert_eq!(body["id"], 9);
        assert_eq!(body["error"]["code"], -32022, "{version}");
        assert_eq!(body["error"]["data"]["requested"], version);
        assert_eq!(
            body["error"]["data"]["supported"],
            json!([MODERN, LEGACY, "2025-06-18", V2025_03_26])
        );
    }
}

#[tokio::test]
async fn mismatched_version_header_is_400() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let mut params = with_meta(json!({}));
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!(LEGACY);
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/list")];
    let reply = s
        .send(post(Some(&s.token), &rpc(3, "tools/list", params.clone()), &headers))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&reply), -32020);
    assert_eq!(reply.json()["id"], 3);
    // The other way round, too.
    let reply = s
        .send(post(
            Some(&s.token),
            &rpc(3, "tools/list", with_meta(json!({}))),
            &[("mcp-protocol-version", LEGACY)],
        ))
        .await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::BAD_REQUEST, -32020));
    // And a modern body with no header at all.
    let reply = s
        .send(post(
            Some(&s.token),
            &rpc(3, "tools/list", with_meta(json!({}))),
            &[("mcp-method", "tools/list")],
        ))
        .await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::BAD_REQUEST, -32020));
}

#[tokio::test]
async fn missing_meta_is_400_invalid_params_under_2026_07_28() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "server/discover")];
    let mut no_caps = meta();
    no_caps
        .as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientCapabilities");
    let mut no_info = meta();
    no_info
        .as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientInfo");
    for (params, ok) in [
        (json!({}), false),
        (json!({"_meta": no_caps}), false),
        (json!({"_meta": no_info}), true),
    ] {
        let reply = s
            .send(post(
                Some(&s.token),
                &rpc(4, "server/discover", params.clone()),
                &headers,
            ))
            .await;
        if ok {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "clientInfo is only a SHOULD: {}",
                reply.text()
            );
        } else {
            assert_eq!(
                (reply.status, error_code(&reply)),
                (StatusCode::BAD_REQUEST, -32602),
                "{params}"
            );
        }
    }
}

#[tokio::test]
async fn mcp_method_header_must_match_the_body() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let body = rpc(5, "tools/list", with_meta(json!({})));
    for method in [Some("tools/call"), Some("Tools/List"), None] {
        let mut headers = vec![("mcp-protocol-version", MODERN)];
        if let Some(m) = method {
            headers.push(("mcp-method", m));
        }
        let reply = s.send(post(Some(&s.token), &body, &headers)).await;
        assert_eq!(
            (reply.status, error_code(&reply)),
            (StatusCode::BAD_REQUEST, -32020),
            "{method:?}"
        );
    }
    let call = rpc(
        6,
        "tools/call",
        with_meta(json!({"name": "notes_list", "arguments": {}})),
    );
    for name in [Some("whoami"), None] {
        let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", "tools/call")];
        if let Some(n) = name {
            headers.push(("mcp-name", n));
        }
        let reply = s.send(post(Some(&s.token), &call, &headers)).await;
        assert_eq!(
            (reply.status, error_code(&reply)),
            (StatusCode::BAD_REQUEST, -32020),
            "{name:?}"
        );
    }
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", " tools/call "),
        ("mcp-name", "=?base64?bm90ZXNfbGlzdA==?="),
    ];
    let reply = s.send(post(Some(&s.token), &call, &headers)).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "trimmed and Base64-encoded values match: {}",
        reply.text()
    );
}

#[tokio::test]
async fn server_discover_works_under_2026_07_28() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let reply = s.modern("server/discover", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let result = &reply.json()["result"];
    assert_eq!(
        result["supportedVersions"],
        json!([MODERN, LEGACY, "2025-06-18", V2025_03_26])
    );
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": false}, "resources": {}, "prompts": {}, "completions": {}})
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-oauth"
    );
    assert!(result["ttlMs"].as_u64().is_some());
    assert_eq!(result["cacheScope"], "public");
}

/// The Python SDK 2.x way in: `server/discover` at 2026-07-28 first; on a JSON-RPC error or a
/// 4xx, `initialize` at 2025-11-25. Both must work.
#[tokio::test]
async fn discover_first_clients_and_initialize_fallback_clients_both_get_in() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    assert_eq!(s.modern("server/discover", json!({})).await.status, StatusCode::OK);
    assert_eq!(s.modern("tools/list", json!({})).await.status, StatusCode::OK);
    let init = rpc(
        1,
        "initialize",
        json!({"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let reply = s.send(post(Some(&s.token), &init, &[])).await;
    assert_eq!(reply.json()["result"]["protocolVersion"], LEGACY);
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        s.send(post(Some(&s.token), &note, &[("mcp-protocol-version", LEGACY)]))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(s.legacy("tools/list", json!({})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn results_carry_result_type_under_2026_07_28() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let list = s.modern("tools/list", json!({})).await.json();
    assert_eq!(list["result"]["resultType"], "complete");
    assert_eq!(
        list["result"]["cacheScope"], "private",
        "the list depends on the token's scopes"
    );
    assert!(list["result"]["ttlMs"].as_u64().is_some());
    assert_eq!(
        list["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    let call = s
        .modern("tools/call", json!({"name": "notes_list", "arguments": {}}))
        .await
        .json();
    assert_eq!(call["result"]["resultType"], "complete");
    let failed = s
        .modern("tools/call", json!({"name": "notes_get", "arguments": {"id": "nope"}}))
        .await
        .json();
    assert_eq!(
        (
            failed["result"]["resultType"].clone(),
            failed["result"]["isError"].clone()
        ),
        (json!("complete"), json!(true))
    );
    // Earlier revisions have no such field.
    let legacy = s.legacy("tools/list", json!({})).await.json();
    assert!(legacy["result"].get("resultType").is_none());
    assert!(legacy["result"].get("ttlMs").is_none());
}

#[tokio::test]
async fn titles_and_structured_content_start_with_2025_06_18() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let old = s.legacy_as(V2025_03_26, "tools/list", json!({})).await.json();
    assert!(old["result"]["tools"][0].get("title").is_none());
    let new = s.legacy_as("2025-06-18", "tools/list", json!({})).await.json();
    assert!(new["result"]["tools"][0]["title"].is_string());
    let old = s
        .legacy_as(V2025_03_26, "tools/call", json!({"name": "notes_list"}))
        .await
        .json();
    assert!(old["result"].get("structuredContent").is_none(), "{old}");
    assert!(text(&old["result"]).contains("notes"));
    let new = s
        .legacy_as("2025-06-18", "tools/call", json!({"name": "notes_list"}))
        .await
        .json();
    assert_eq!(new["result"]["structuredContent"], json!({"notes": []}));
}

// ---- hardening: batch bounds, exact ids, duplicate members ----

#[tokio::test]
async fn a_batch_longer_than_max_batch_is_an_invalid_request_and_runs_nothing() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let max = mcp_oauth::mcp::protocol::MAX_BATCH;
    let batch = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| {
                    rpc(
                        i as i64,
                        "tools/call",
                        json!({"name": "notes_add", "arguments": {"text": "x"}}),
                    )
                })
                .collect(),
        )
    };
    let reply = s.send(post(Some(&s.token), &batch(max + 1), &[])).await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::BAD_REQUEST, -32600));
    let listed = s.call_tool("notes_list", json!({})).await;
    assert_eq!(listed["structuredContent"]["notes"], json!([]), "nothing ran");
    let reply = s.send(post(Some(&s.token), &batch(max), &[])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json().as_array().map(Vec::len), Some(max));
}

#[tokio::test]
async fn a_batch_of_list_calls_over_full_notes_stays_within_max_response() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    let chars = catalog::notes::MAX_CHARS;
    for _ in 0..catalog::notes::MAX_NOTES {
        let added = s.call_tool("notes_add", json!({"text": "x".repeat(chars)})).await;
        assert_eq!(added["isError"], false, "{added}");
    }
    let max = mcp_oauth::mcp::protocol::MAX_BATCH;
    let batch = Value::Array(
        (0..max)
            .map(|i| rpc(i as i64, "tools/call", json!({"name": "notes_list", "arguments": {}})))
            .collect(),
    );
    let reply = s.send(post(Some(&s.token), &batch, &[])).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.len() <= mcp_oauth::mcp::protocol::MAX_RESPONSE,
        "{} bytes",
        reply.body.len()
    );
    let answers = reply.json();
    let answers = answers.as_array().expect("a batch response");
    assert_eq!(answers.len(), max, "every request is answered");
    for a in answers {
        if a.get("error").is_some() {
            assert_eq!(a["error"]["code"], -32603, "{}", a["error"]);
        } else {
            assert!(text(&a["result"]).contains("nextCursor"), "a page, not every note");
        }
    }
}

#[tokio::test]
async fn request_ids_come_back_exactly_as_sent() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for id in [
        "123456789012345678901234567890",
        "-98765432109876543210",
        "18446744073709551615",
        "0",
        r#""é \"quoted\" id""#,
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        let reply = s
            .send(post_raw(Some(&s.token), body, &[("mcp-protocol-version", LEGACY)]))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(
            reply.text().contains(&format!(r#""id":{id}"#)),
            "{id}: {}",
            reply.text()
        );
        // In a batch too, and in an error.
        let body = format!(r#"[{{"jsonrpc":"2.0","id":{id},"method":"no/such"}}]"#);
        let reply = s.send(post_raw(Some(&s.token), body, &[])).await;
        assert!(
            reply.text().contains(&format!(r#""id":{id}"#)),
            "{id}: {}",
            reply.text()
        );
    }
}

#[tokio::test]
async fn fractional_and_exponent_ids_are_invalid_requests() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for id in ["1.5", "1e3", "2.0", "-1E-2"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        let reply = s
            .send(post_raw(Some(&s.token), body, &[("mcp-protocol-version", LEGACY)]))
            .await;
        assert_eq!(
            (reply.status, error_code(&reply)),
            (StatusCode::BAD_REQUEST, -32600),
            "{id}"
        );
        assert!(reply.json().get("id").is_none(), "{id}: {}", reply.text());
    }
}

#[tokio::test]
async fn duplicate_member_names_are_invalid_requests() {
    let (store, _, _dir) = embedded();
    let s = session(store).await;
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"notes_list","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_add","arguments":{"text":"a","text":"b"}}}"#,
    ] {
        let reply = s
            .send(post_raw(Some(&s.token), body, &[("mcp-protocol-version", LEGACY)]))
            .await;
        assert_eq!(
            (reply.status, error_code(&reply)),
            (StatusCode::BAD_REQUEST, -32600),
            "{body}"
        );
    }
    let listed = s.call_tool("notes_list", json!({})).await;
    assert_eq!(listed["structuredContent"]["notes"], json!([]), "nothing ran");
}
