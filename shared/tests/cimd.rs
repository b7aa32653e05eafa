//! Client ID Metadata Documents: a client whose `client_id` is the URL of its metadata document
//! needs no registration. The documents here are served from loopback, which
//! `CIMD_ALLOW_LOOPBACK=1` allows for local development (production requires https and a public
//! address).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use common::embedded;
use common::oauth::{Harness, ISSUER, TestClient, redirect_params};
use http::StatusCode;
use serde_json::{Value, json};

/// Serves `doc` at `{base}/c/{name}` for any name, with `{url}` replaced by that URL and the
/// given `Cache-Control`; counts fetches. Returns the base URL.
async fn serve_many(doc: Value, cache_control: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let template = doc.to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let origin = base.clone();
    let app = Router::new().route(
        "/c/{name}",
        get(move |axum::extract::Path(name): axum::extract::Path<String>| {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = template.replace("{url}", &format!("{origin}/c/{name}"));
            async move {
                (
                    [("content-type", "application/json"), ("cache-control", cache_control)],
                    body,
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits)
}

/// Serves `doc` (with `{url}` replaced by the document's own URL) and counts fetches.
async fn serve(doc: Value) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/oauth/client.json",
        listener.local_addr().unwrap().port()
    );
    let body = doc.to_string().replace("{url}", &url);
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/oauth/client.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move {
                (
                    [("content-type", "application/json"), ("cache-control", "max-age=600")],
                    body,
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

fn document() -> Value {
    json!({
        "client_id": "{url}",
        "client_name": "Doc Client",
        "redirect_uris": ["http://127.0.0.1:7777/callback"],
        "token_endpoint_auth_method": "none",
    })
}

fn harness(allow: bool) -> (Harness, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    let vars: &[(&str, &str)] = if allow { &[("CIMD_ALLOW_LOOPBACK", "1")] } else { &[] };
    (Harness::with_config(store, vars), dir)
}

fn client(url: &str) -> TestClient {
    TestClient {
        id: url.to_owned(),
        secret: None,
        redirect_uri: "http://127.0.0.1:7777/callback".into(),
        verifier: mcp_oauth::crypto::random_token(),
    }
}

#[tokio::test]
async fn metadata_advertises_client_id_metadata_documents() {
    let (h, _d) = harness(false);
    let meta = h
        .call(common::get("/.well-known/oauth-authorization-server"))
        .await
        .json();
    assert_eq!(meta["client_id_metadata_document_supported"], true);
}

#[tokio::test]
async fn a_document_client_completes_the_flow_without_registering() {
    let (h, _d) = harness(true);
    let (url, hits) = serve(document()).await;
    let c = client(&url);
    let params = h
        .sign_up_and_approve(&mut h.browser(), &c, "doc@example.com", &[])
        .await;
    assert_eq!(params["iss"], ISSUER);
    let tokens = h.redeem(&c, &params["code"]).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the document is fetched once, then read from the cache"
    );
}

#[tokio::test]
async fn the_consent_page_names_the_documents_host() {
    let (h, _d) = harness(true);
    let (url, _) = serve(document()).await;
    let c = client(&url);
    let mut browser = h.browser();
    let login = browser.get(&Harness::authorize_url(&c, &[])).await;
    let signup = browser.submit(&login, "show_signup", &[]).await;
    let verify = browser
        .submit(
            &signup,
            "signup",
            &[("email", "host@example.com"), ("password", common::oauth::PASSWORD)],
        )
        .await;
    let consent = h.enter_code(&mut browser, &verify, "host@example.com").await;
    // The host is ours, outside the client's own (isolated) text.
    assert!(
        consent
            .text()
            .contains(r#"<bdi>Doc Client</bdi> <span class="host">(127.0.0.1)</span>"#),
        "{}",
        consent.text()
    );
}

async fn refused(doc: Value, why: &str) {
    let (h, _d) = harness(true);
    let (url, _) = serve(doc).await;
    let reply = h.browser().get(&Harness::authorize_url(&client(&url), &[])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{why}: {}", reply.text());
    assert!(
        reply.header("location").is_none(),
        "{why}: never redirect for an unverified client"
    );
}

#[tokio::test]
async fn a_document_naming_another_client_id_is_refused() {
    let mut doc = document();
    doc["client_id"] = json!("https://other.example/client.json");
    refused(doc, "client_id mismatch").await;
}

#[tokio::test]
async fn a_document_asking_for_a_client_secret_is_refused() {
    let mut doc = document();
    doc["token_endpoint_auth_method"] = json!("client_secret_basic");
    refused(doc, "confidential").await;
}

#[tokio::test]
async fn a_document_with_an_invalid_redirect_uri_is_refused() {
    let mut doc = document();
    doc["redirect_uris"] = json!(["http://evil.example/callback"]);
    refused(doc, "bad redirect").await;
}

#[tokio::test]
async fn an_oversize_document_is_refused() {
    let mut doc = document();
    doc["client_uri"] = json!(format!("https://example.com/{}", "x".repeat(6000)));
    refused(doc, "oversize").await;
}

#[tokio::test]
async fn an_unreachable_document_shows_an_error_page() {
    let (h, _d) = harness(true);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/oauth/client.json",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let reply = h.browser().get(&Harness::authorize_url(&client(&url), &[])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text().contains("metadata document could not be fetched"),
        "{}",
        reply.text()
    );
    assert!(reply.header("location").is_none());
}

#[tokio::test]
async fn loopback_documents_are_refused_unless_allowed() {
    let (h, _d) = harness(false);
    let (url, hits) = serve(document()).await;
    let reply = h.browser().get(&Harness::authorize_url(&client(&url), &[])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing is fetched from loopback in production mode"
    );
}

#[tokio::test]
async fn a_document_client_at_the_token_endpoint_is_public() {
    let (h, _d) = harness(true);
    let (url, _) = serve(document()).await;
    let mut c = client(&url);
    let params = h
        .sign_up_and_approve(&mut h.browser(), &c, "pub@example.com", &[])
        .await;
    c.secret = Some("anything".into());
    let reply = h.redeem(&c, &params["code"]).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "a secret is never accepted for a document client"
    );
    let _ = redirect_params;
}

/// Run by [`documents_are_fetched_directly_even_when_a_proxy_is_configured`] in a child process
/// whose environment names a proxy (setting it here would race the other tests).
#[tokio::test]
#[ignore = "run by documents_are_fetched_directly_even_when_a_proxy_is_configured"]
async fn proxy_child_fetches_the_document() {
    let (h, _d) = harness(true);
    let (url, hits) = serve(document()).await;
    let login = h.browser().get(&Harness::authorize_url(&client(&url), &[])).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// A proxy would resolve the document's host itself, past the public-address check.
#[test]
fn documents_are_fetched_directly_even_when_a_proxy_is_configured() {
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "proxy_child_fetches_the_document",
            "--ignored",
            "--nocapture",
        ])
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("HTTPS_PROXY", &proxy_url)
        .env("https_proxy", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran the test"
    );
    assert!(proxy.accept().is_err(), "nothing connected to the proxy");
}

// ---- bounds on fetching ----

#[tokio::test]
async fn a_failed_document_is_answered_from_the_negative_cache_for_a_minute() {
    let (store, clock, _d) = embedded();
    let h = Harness::with_config(store, &[("CIMD_ALLOW_LOOPBACK", "1")]);
    let mut doc = document();
    doc["client_id"] = json!("https://other.example/client.json");
    let (base, hits) = serve_many(doc, "max-age=600").await;
    let c = client(&format!("{base}/c/bad.json"));
    for _ in 0..3 {
        let reply = h.browser().get(&Harness::authorize_url(&c, &[])).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    for _ in 0..2 {
        let reply = h.redeem(&c, "some-code").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one fetch for the whole burst");
    clock.advance(61);
    h.browser().get(&Harness::authorize_url(&c, &[])).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2, "fetched again after the minute");
}

#[tokio::test]
async fn fetches_per_origin_are_limited() {
    let (h, _d) = harness(true);
    let (base, hits) = serve_many(document(), "max-age=600").await;
    for i in 0..10 {
        let c = client(&format!("{base}/c/{i}.json"));
        let reply = h.browser().get(&Harness::authorize_url(&c, &[])).await;
        assert_eq!(reply.status, StatusCode::OK, "{i}: {}", reply.text());
    }
    let c = client(&format!("{base}/c/one-too-many.json"));
    let reply = h.browser().get(&Harness::authorize_url(&c, &[])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(reply.header("location").is_none());
    assert_eq!(hits.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn revocation_never_fetches_a_document() {
    let (h, _d) = harness(true);
    let (base, hits) = serve_many(document(), "max-age=600").await;
    let id = format!("{base}/c/revoker.json");
    let reply = h
        .call(common::post_form(
            "/api/oauth/revoke",
            &[("client_id", id.as_str()), ("token", "a.b")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_document_client_revokes_its_grant_after_its_cache_entry_expired() {
    let (store, clock, _d) = embedded();
    let h = Harness::with_config(store, &[("CIMD_ALLOW_LOOPBACK", "1")]);
    let (base, hits) = serve_many(document(), "no-store").await;
    let c = client(&format!("{base}/c/expiring.json"));
    let params = h
        .sign_up_and_approve(&mut h.browser(), &c, "expiring@example.com", &[])
        .await;
    let tokens = h.redeem(&c, &params["code"]).await.json();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    clock.advance(120);
    let fetched = hits.load(Ordering::SeqCst);
    let reply = h
        .call(common::post_form(
            "/api/oauth/revoke",
            &[("client_id", c.id.as_str()), ("token", rt.as_str())],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(hits.load(Ordering::SeqCst), fetched, "no fetch to revoke");
    assert_eq!(
        h.refresh(&c, &rt).await.json()["error"],
        "invalid_grant",
        "the grant is revoked"
    );
}

#[tokio::test]
async fn a_no_store_document_is_kept_only_the_minimum_minute() {
    let (store, clock, _d) = embedded();
    let h = Harness::with_config(store, &[("CIMD_ALLOW_LOOPBACK", "1")]);
    let (base, hits) = serve_many(document(), "no-store").await;
    let c = client(&format!("{base}/c/no-store.json"));
    for _ in 0..2 {
        let reply = h.browser().get(&Harness::authorize_url(&c, &[])).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "kept for the minimum");
    clock.advance(61);
    h.browser().get(&Harness::authorize_url(&c, &[])).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2, "refetched after a minute, not five");
}
