//! Upstream sign-in through an OpenID Connect provider (a small one on loopback, see
//! `common::idp`): the flow resumes the pending MCP authorization, an identity returns to its
//! user, and every failure shows a page, creates no account and leaves the request retryable.

mod common;

use common::idp::{Answer, Idp};
use common::oauth::{Browser, Harness, ISSUER, TestClient, redirect_params};
use common::{Reply, embedded, post_form};
use http::StatusCode;
use mcp_oauth::accounts::users;
use mcp_oauth::store::Table;

struct World {
    h: Harness,
    idp: Idp,
    client: TestClient,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let idp = Idp::start("our-client-at-idp").await;
    let (store, _, dir) = embedded();
    let h = Harness::with_config(
        store,
        &[
            ("OIDC_PROVIDERS", "acme"),
            ("OIDC_ACME_ISSUER", &idp.issuer),
            ("OIDC_ACME_CLIENT_ID", "our-client-at-idp"),
            ("OIDC_ACME_CLIENT_SECRET", "idp-secret"),
            ("OIDC_ACME_NAME", "Acme SSO"),
        ],
    );
    let client = h.public_client().await;
    World {
        h,
        idp,
        client,
        _dir: dir,
    }
}

/// Opens the authorize page and presses "Continue with Acme SSO"; returns the provider URL.
async fn go_upstream(w: &World, browser: &mut Browser) -> String {
    let login = browser.get(&Harness::authorize_url(&w.client, &[])).await;
    assert!(
        login.text().contains("Continue with Acme SSO"),
        "the provider is offered"
    );
    let mut fields = common::oauth::inputs(&login.text());
    fields.retain(|k, _| !matches!(k.as_str(), "email" | "password"));
    fields.insert("provider".into(), "acme".into());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = browser.send(post_form("/oauth/authorize", &pairs)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let location = reply.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/authorize", w.idp.issuer)),
        "{location}"
    );
    location
}

/// The provider's redirect back to us, as the browser follows it.
fn callback_path(provider_url: &str, code: Option<&str>, error: Option<&str>) -> String {
    callback_path_with(provider_url, code, error, &[])
}

fn callback_path_with(provider_url: &str, code: Option<&str>, error: Option<&str>, extra: &[(&str, &str)]) -> String {
    let url = url::Url::parse(provider_url).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let redirect = url::Url::parse(&q["redirect_uri"]).unwrap();
    assert_eq!(redirect.as_str(), format!("{ISSUER}/oauth/callback/acme"));
    let mut back = vec![("state", q["state"].as_str())];
    if let Some(c) = code {
        back.push(("code", c));
    }
    if let Some(e) = error {
        back.push(("error", e));
    }
    back.extend_from_slice(extra);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(back)
        .finish();
    format!("{}?{query}", redirect.path())
}

async fn user_of(w: &World, sub: &str) -> String {
    let item =
        w.h.store
            .get(Table::Users, &users::identity_key("acme", sub))
            .await
            .unwrap()
            .unwrap();
    item.body["user_id"].as_str().unwrap().to_owned()
}

async fn no_account(w: &World, sub: &str, email: &str) {
    assert!(
        w.h.store
            .get(Table::Users, &users::identity_key("acme", sub))
            .await
            .unwrap()
            .is_none(),
        "an identity was created"
    );
    assert!(
        w.h.store
            .get(Table::Users, &users::email_key(email))
            .await
            .unwrap()
            .is_none(),
        "an account was created"
    );
}

fn assert_retryable(reply: &Reply) {
    assert!(
        reply.status.is_client_error() || reply.status.is_server_error(),
        "{}",
        reply.status
    );
    assert!(reply.header("content-type").unwrap().starts_with("text/html"));
    assert!(
        reply.text().contains("href=\"/oauth/authorize?"),
        "a link restarts the request: {}",
        reply.text()
    );
}

async fn sign_in_upstream(w: &World, browser: &mut Browser, answer: Answer) -> Reply {
    let provider_url = go_upstream(w, browser).await;
    let code = w.idp.sign_in(&provider_url, answer);
    browser.get(&callback_path(&provider_url, Some(&code), None)).await
}

#[tokio::test]
async fn oidc_sign_in_resumes_the_authorization_through_consent_to_tokens() {
    let w = world().await;
    let mut browser = w.h.browser();
    let consent = sign_in_upstream(&w, &mut browser, Answer::verified("u-1", "dana@acme.example")).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text());
    assert!(
        consent.text().contains("value=\"approve\""),
        "the consent screen comes next"
    );
    assert!(consent.text().contains("dana@acme.example"));
    let done = browser.submit(&consent, "approve", &[]).await;
    let params = redirect_params(&done);
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
    let tokens = w.h.redeem(&w.client, &params["code"]).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
}

#[tokio::test]
async fn the_same_upstream_identity_lands_on_the_same_user() {
    let w = world().await;
    let mut first = w.h.browser();
    sign_in_upstream(&w, &mut first, Answer::verified("u-2", "erin@acme.example")).await;
    let a = user_of(&w, "u-2").await;
    let mut second = w.h.browser();
    let reply = sign_in_upstream(&w, &mut second, Answer::verified("u-2", "erin@acme.example")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(user_of(&w, "u-2").await, a);
    assert!(
        reply.text().contains("erin@acme.example"),
        "the consent page shows the same user"
    );
}

#[tokio::test]
async fn a_verified_email_links_to_the_existing_verified_password_account() {
    let w = world().await;
    let mut local = w.h.browser();
    w.h.sign_up_and_approve(&mut local, &w.client, "finn@acme.example", &[])
        .await;
    let owner =
        w.h.store
            .get(Table::Users, &users::email_key("finn@acme.example"))
            .await
            .unwrap()
            .unwrap()
            .body["user_id"]
            .clone();
    let mut browser = w.h.browser();
    let reply = sign_in_upstream(&w, &mut browser, Answer::verified("u-3", "Finn@Acme.example")).await;
    assert!(
        reply.status == StatusCode::FOUND || reply.status == StatusCode::OK,
        "{}",
        reply.text()
    );
    let linked =
        w.h.store
            .get(Table::Users, &users::identity_key("acme", "u-3"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(linked.body["user_id"], owner);
    assert_eq!(
        reply.status,
        StatusCode::FOUND,
        "consent given as that user is remembered"
    );
}

/// The "classic-federated merge" pre-account takeover: an attacker signs up with the victim's
/// address and a password of their own, never verifies it, and waits for the victim to arrive
/// through a provider that vouches for the address.
#[tokio::test]
async fn a_verified_email_never_joins_an_unverified_password_account() {
    let w = world().await;
    let attacker = users::sign_up(&w.h.store, "vic@acme.example", "the attackers own passphrase")
        .await
        .unwrap();
    assert!(!attacker.email_verified);
    let mut browser = w.h.browser();
    let consent = sign_in_upstream(&w, &mut browser, Answer::verified("victim-1", "vic@acme.example")).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text());
    let linked =
        w.h.store
            .get(Table::Users, &users::identity_key("acme", "victim-1"))
            .await
            .unwrap()
            .unwrap();
    let victim_id = linked.body["user_id"].as_str().unwrap().to_owned();
    assert_ne!(
        victim_id, attacker.id,
        "the identity must not join the attacker's account"
    );
    // The address now belongs to the victim's account; the attacker's password leads nowhere.
    assert_eq!(
        users::owner_of(&w.h.store, "vic@acme.example")
            .await
            .unwrap()
            .as_deref(),
        Some(victim_id.as_str())
    );
    assert!(matches!(
        users::log_in(&w.h.store, "vic@acme.example", "the attackers own passphrase", None).await,
        Err(users::LoginError::Invalid)
    ));
    let displaced = users::get(&w.h.store, &attacker.id).await.unwrap().unwrap();
    assert_eq!(displaced.email, "", "the unverified account lost the address");
}

#[tokio::test]
async fn email_from_userinfo_is_used_when_the_id_token_has_none() {
    let w = world().await;
    let mut answer = Answer::verified("u-4", "gail@acme.example");
    answer.email_only_in_userinfo = true;
    let reply = sign_in_upstream(&w, &mut w.h.browser(), answer).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        w.h.store
            .get(Table::Users, &users::email_key("gail@acme.example"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn state_from_another_browser_is_refused_and_the_right_browser_can_still_finish() {
    let w = world().await;
    let mut victim = w.h.browser();
    let provider_url = go_upstream(&w, &mut victim).await;
    let code = w
        .idp
        .sign_in(&provider_url, Answer::verified("u-5", "hal@acme.example"));
    let mut other = w.h.browser();
    let refused = other.get(&callback_path(&provider_url, Some(&code), None)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text().contains("another browser"));
    no_account(&w, "u-5", "hal@acme.example").await;
    let finished = victim.get(&callback_path(&provider_url, Some(&code), None)).await;
    assert_eq!(finished.status, StatusCode::OK, "{}", finished.text());
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let w = world().await;
    let mut browser = w.h.browser();
    let provider_url = go_upstream(&w, &mut browser).await;
    let code = w
        .idp
        .sign_in(&provider_url, Answer::verified("u-6", "ida@acme.example"));
    let callback = callback_path(&provider_url, Some(&code), None);
    let binding = browser.cookies.get("__Host-upstream").cloned().unwrap();
    assert_eq!(browser.get(&callback).await.status, StatusCode::OK);
    browser.cookies.insert("__Host-upstream".into(), binding);
    let again = browser.get(&callback).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.text().contains("already used"));
}

#[tokio::test]
async fn upstream_access_denied_shows_a_page_and_creates_no_account() {
    let w = world().await;
    let mut browser = w.h.browser();
    let provider_url = go_upstream(&w, &mut browser).await;
    let reply = browser
        .get(&callback_path(&provider_url, None, Some("access_denied")))
        .await;
    assert_retryable(&reply);
    assert!(reply.text().contains("did not allow"));
    no_account(&w, "u-7", "jo@acme.example").await;
}

#[tokio::test]
async fn missing_email_shows_a_page_and_creates_no_account() {
    let w = world().await;
    let mut answer = Answer::verified("u-8", "kim@acme.example");
    answer.email = None;
    let reply = sign_in_upstream(&w, &mut w.h.browser(), answer).await;
    assert_retryable(&reply);
    assert!(reply.text().contains("verified email"));
    no_account(&w, "u-8", "kim@acme.example").await;
}

#[tokio::test]
async fn unverified_email_shows_a_page_and_creates_no_account() {
    let w = world().await;
    let mut answer = Answer::verified("u-9", "lee@acme.example");
    answer.email_verified = false;
    let reply = sign_in_upstream(&w, &mut w.h.browser(), answer).await;
    assert_retryable(&reply);
    no_account(&w, "u-9", "lee@acme.example").await;
}

#[tokio::test]
async fn id_token_for_another_audience_is_refused() {
    let w = world().await;
    let mut answer = Answer::verified("u-10", "max@acme.example");
    answer.aud = Some("someone-else".into());
    let reply = sign_in_upstream(&w, &mut w.h.browser(), answer).await;
    assert_retryable(&reply);
    assert!(reply.text().contains("another client"), "{}", reply.text());
    no_account(&w, "u-10", "max@acme.example").await;
}

#[tokio::test]
async fn id_token_with_the_wrong_nonce_is_refused() {
    let w = world().await;
    let mut answer = Answer::verified("u-11", "ned@acme.example");
    answer.nonce = Some("replayed-from-elsewhere".into());
    let reply = sign_in_upstream(&w, &mut w.h.browser(), answer).await;
    assert_retryable(&reply);
    assert!(reply.text().contains("nonce"));
    no_account(&w, "u-11", "ned@acme.example").await;
}

#[tokio::test]
async fn a_code_the_provider_rejects_is_refused() {
    let w = world().await;
    let mut browser = w.h.browser();
    let provider_url = go_upstream(&w, &mut browser).await;
    let reply = browser
        .get(&callback_path(&provider_url, Some("forged-code"), None))
        .await;
    assert_retryable(&reply);
}

#[tokio::test]
async fn unreachable_provider_shows_a_page_and_leaves_the_request_retryable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(
        store,
        &[
            ("OIDC_PROVIDERS", "down"),
            ("OIDC_DOWN_ISSUER", &issuer),
            ("OIDC_DOWN_CLIENT_ID", "c"),
            ("OIDC_DOWN_CLIENT_SECRET", "s"),
        ],
    );
    let client = h.public_client().await;
    let mut browser = h.browser();
    let login = browser.get(&Harness::authorize_url(&client, &[])).await;
    let mut fields = common::oauth::inputs(&login.text());
    fields.retain(|k, _| !matches!(k.as_str(), "email" | "password"));
    fields.insert("provider".into(), "down".into());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = browser.send(post_form("/oauth/authorize", &pairs)).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_retryable(&reply);
    let text = reply.text();
    let retry = text
        .split("href=\"/oauth/authorize?")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let retry = format!("/oauth/authorize?{retry}");
    let again = browser.get(&retry).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the retry link restarts the authorization"
    );
}

#[tokio::test]
async fn provider_button_without_the_login_csrf_cookie_is_refused() {
    let w = world().await;
    let mut browser = w.h.browser();
    let login = browser.get(&Harness::authorize_url(&w.client, &[])).await;
    browser.cookies.clear();
    let mut fields = common::oauth::inputs(&login.text());
    fields.insert("provider".into(), "acme".into());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = browser.send(post_form("/oauth/authorize", &pairs)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn no_provider_buttons_without_configured_providers() {
    let (store, _, _dir) = embedded();
    let h = Harness::new(store);
    let client = h.public_client().await;
    let login = h.browser().get(&Harness::authorize_url(&client, &[])).await;
    assert!(!login.text().contains("Continue with"));
}

#[tokio::test]
async fn a_response_naming_another_issuer_is_refused() {
    let w = world().await;
    let mut browser = w.h.browser();
    let provider_url = go_upstream(&w, &mut browser).await;
    let code = w
        .idp
        .sign_in(&provider_url, Answer::verified("u-12", "olga@acme.example"));
    let reply = browser
        .get(&callback_path_with(
            &provider_url,
            Some(&code),
            None,
            &[("iss", "https://evil.example")],
        ))
        .await;
    assert_retryable(&reply);
    assert!(reply.text().contains("did not come from"));
    no_account(&w, "u-12", "olga@acme.example").await;
}

#[tokio::test]
async fn a_response_naming_the_right_issuer_is_accepted() {
    let w = world().await;
    let mut browser = w.h.browser();
    let provider_url = go_upstream(&w, &mut browser).await;
    let code = w
        .idp
        .sign_in(&provider_url, Answer::verified("u-13", "pia@acme.example"));
    let iss = w.idp.issuer.clone();
    let reply = browser
        .get(&callback_path_with(&provider_url, Some(&code), None, &[("iss", &iss)]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}
