//! Test fixtures: a fresh store on either backend.
//!
//! DynamoDB tests run against the emulator whose URL is in `DYNAMODB_TEST_ENDPOINT`; the test
//! command (`infra/scripts/test.sh`) starts moto and sets it. Each store gets its own table
//! prefix, so tests run in parallel on one emulator without seeing each other's items.
#![allow(dead_code)]

pub mod idp;
pub mod oauth;

use std::sync::atomic::{AtomicU64, Ordering};

use mcp_oauth::clock::Clock;
use mcp_oauth::store::Store;
use mcp_oauth::store::dynamo::DynamoStore;
use mcp_oauth::store::embedded::EmbeddedStore;
use tables::create_tables;

/// A store on the embedded backend in a temporary directory (deleted when the guard drops).
pub fn embedded() -> (Store, Clock, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Clock::system();
    let store = Store::new(EmbeddedStore::open(&dir.path().join("store.redb"), clock.clone()).expect("open redb"));
    (store, clock, dir)
}

pub fn dynamo_endpoint() -> String {
    std::env::var("DYNAMODB_TEST_ENDPOINT").expect(
        "DYNAMODB_TEST_ENDPOINT is unset: run the tests with infra/scripts/test.sh, which starts a DynamoDB emulator",
    )
}

/// A fresh table prefix, unique within this process and across processes.
pub fn unique_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("t{}-{}-", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A store on the DynamoDB backend, with every table of template.yaml created under a new prefix.
pub async fn dynamo() -> (Store, Clock, ()) {
    let (store, _) = dynamo_backend().await;
    let clock = store.clock().clone();
    (store, clock, ())
}

/// Like [`dynamo`], also returning the backend itself, for tests that inspect tables directly.
pub async fn dynamo_backend() -> (Store, DynamoStore) {
    let prefix = unique_prefix();
    let backend = DynamoStore::connect(Some(&dynamo_endpoint()), &prefix, Clock::system()).await;
    create_tables(backend.client(), &prefix)
        .await
        .expect("create tables on the emulator");
    (Store::new(backend.clone()), backend)
}

/// A fresh symmetric KMS key on the emulator (moto answers KMS on the DynamoDB endpoint), as the
/// wrapping of signing keys.
pub async fn kms_key() -> mcp_oauth::kms::Kms {
    let endpoint = dynamo_endpoint();
    let setup = mcp_oauth::kms::Kms::connect("unused", Some(&endpoint)).await;
    let key = setup
        .client()
        .create_key()
        .send()
        .await
        .expect("create a KMS key on the emulator");
    let id = key.key_metadata().expect("key metadata").key_id().to_owned();
    mcp_oauth::kms::Kms::connect(&id, Some(&endpoint)).await
}

/// A KMS client for `key_id` at a loopback port nothing listens on: every call fails to connect.
pub async fn unreachable_kms(key_id: &str) -> mcp_oauth::kms::Kms {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // The listener is dropped here, so the port refuses connections.
    mcp_oauth::kms::Kms::connect(key_id, Some(&format!("http://127.0.0.1:{port}"))).await
}

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use mcp_oauth::app::AppState;
use mcp_oauth::config::Config;
use tower::ServiceExt;

/// A fresh outbox folder for one test's mail (under the system temp dir).
pub fn fresh_outbox() -> String {
    std::env::temp_dir()
        .join(format!("mcp-oauth-test-outbox-{}", unique_prefix()))
        .display()
        .to_string()
}

/// The default configuration (issuer `http://localhost:3000`, mail to a fresh outbox folder),
/// with `vars` overriding.
pub fn config_with(vars: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if !vars.iter().any(|(k, _)| k == "OUTBOX_DIR") {
        vars.push(("OUTBOX_DIR".into(), fresh_outbox()));
    }
    Config::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("test config")
}

pub fn state(store: Store) -> AppState {
    new_state(config_with(&[]), store)
}

/// A state serving the deployment's catalog (`catalog::catalog()`, as the Lambdas do), with the
/// conformance fixtures after it when `config` switches them on (as the dev server does).
pub fn new_state(config: Config, store: Store) -> AppState {
    serving(AppState::new(config, store))
}

/// `state` serving the deployment's catalog (and the fixtures, as [`new_state`]).
pub fn serving(state: AppState) -> AppState {
    let deployment = catalog::catalog();
    let catalog = if state.config.conformance_fixtures {
        conformance_fixtures::append(deployment)
    } else {
        deployment
    };
    state.with_catalog(catalog)
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request through a router in process.
pub async fn send(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.expect("router is infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, headers, body }
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// A form POST (`application/x-www-form-urlencoded`) of `fields`.
pub fn post_form(uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

pub fn post_json(uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The mails in an outbox folder addressed to `to`, oldest first, as their full text.
pub fn mails_to(dir: &std::path::Path, to: &str) -> Vec<String> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|text| text.lines().next() == Some(&format!("To: {to}")))
        .collect()
}

/// The six-digit code in a verification mail.
pub fn code_in(mail: &str) -> String {
    let line = mail
        .lines()
        .find(|l| l.starts_with("Your verification code is: "))
        .unwrap_or_else(|| panic!("no code in this mail:\n{mail}"));
    line.trim_start_matches("Your verification code is: ").trim().to_owned()
}

/// The reset link's token in a reset mail.
pub fn reset_token_in(mail: &str) -> String {
    let at = mail
        .find("/oauth/reset?token=")
        .unwrap_or_else(|| panic!("no reset link in:\n{mail}"));
    mail[at + "/oauth/reset?token=".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A log sink for tests: a tracing subscriber writes here, the test reads it back.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
