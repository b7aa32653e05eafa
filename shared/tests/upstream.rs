//! Upstream sign-in through an OpenID Connect provider (a small one on loopback, see
//! `common::idp`): the flow resumes the pending MCP authorization, an identity returns to its
//! user, and every failure shows a page, creates no account and leaves the request retryable.
//! Then each provider's policy: allowed hosted domains, when an email counts as verified, and
//! GitHub organisation membership (against a fake GitHub API on loopback).

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
    world_with(&[]).await
}

/// The Acme SSO provider, with more variables (its policy) in `extra`.
async fn world_with(extra: &[(&str, &str)]) -> World {
    let idp = Idp::start("our-client-at-idp").await;
    let (store, _, dir) = embedded();
    let mut vars = vec![
        ("OIDC_PROVIDERS", "acme"),
        ("OIDC_ACME_ISSUER", idp.issuer.as_str()),
        ("OIDC_ACME_CLIENT_ID", "our-client-at-idp"),
        ("OIDC_ACME_CLIENT_SECRET", "idp-secret"),
        ("OIDC_ACME_NAME", "Acme SSO"),
    ];
    vars.extend_from_slice(extra);
    let h = Harness::with_config(store, &vars);
    // An https client: remembered consent may skip the page for it.
    let client = h.public_web_client().await;
    World {
        h,
        idp,
        client,
        _dir: dir,
    }
}

/// Opens the authorize page and presses "Continue with <name>"; returns the provider URL.
async fn press(client: &TestClient, browser: &mut Browser, id: &str, name: &str) -> String {
    let login = browser.get(&Harness::authorize_url(client, &[])).await;
    assert!(
        login.text().contains(&format!("Continue with {name}")),
        "the provider is offered"
    );
    let mut fields = common::oauth::inputs(&login.text());
    fields.retain(|k, _| !matches!(k.as_str(), "email" | "password"));
    fields.insert("provider".into(), id.into());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = browser.send(post_form("/oauth/authorize", &pairs)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    reply.header("location").unwrap().to_owned()
}

/// Presses "Continue with Acme SSO"; returns the provider URL.
async fn go_upstream(w: &World, browser: &mut Browser) -> String {
    let location = press(&w.client, browser, "acme", "Acme SSO").await;
    assert!(
        location.starts_with(&format!("{}/authorize", w.idp.issuer)),
        "{location}"
    );
    location
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
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
    no_account_at(&w.h, "acme", sub, email).await;
}

async fn no_account_at(h: &Harness, provider: &str, sub: &str, email: &str) {
    assert!(
        h.store
            .get(Table::Users, &users::identity_key(provider, sub))
            .await
            .unwrap()
            .is_none(),
        "an identity was created"
    );
    assert!(
        h.store
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

#[tokio::test]
async fn a_hosted_domain_outside_the_allowed_ones_is_refused_and_creates_no_account() {
    let w = world_with(&[("OIDC_ACME_ALLOWED_DOMAINS", "acme.example")]).await;
    let mut answer = Answer::verified("u-20", "quinn@gmail.example");
    answer.claims.insert("hd".into(), "elsewhere.example".into());
    let reply = sign_in_upstream(&w, &mut w.h.browser(), answer).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_retryable(&reply);
    assert!(
        reply.text().contains("not in a domain allowed here"),
        "{}",
        reply.text()
    );
    no_account(&w, "u-20", "quinn@gmail.example").await;
}

#[tokio::test]
async fn an_account_without_a_hosted_domain_is_refused_when_domains_are_allowed() {
    let w = world_with(&[("OIDC_ACME_ALLOWED_DOMAINS", "acme.example")]).await;
    let reply = sign_in_upstream(&w, &mut w.h.browser(), Answer::verified("u-21", "rae@acme.example")).await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "an email's domain is not the hosted domain"
    );
    no_account(&w, "u-21", "rae@acme.example").await;
}

#[tokio::test]
async fn an_allowed_hosted_domain_signs_in_and_a_single_domain_is_sent_as_the_hd_hint() {
    let w = world_with(&[("OIDC_ACME_ALLOWED_DOMAINS", "Acme.example")]).await;
    let mut browser = w.h.browser();
    let provider_url = go_upstream(&w, &mut browser).await;
    assert_eq!(query(&provider_url)["hd"], "acme.example");
    let mut answer = Answer::verified("u-22", "sam@acme.example");
    answer.claims.insert("hd".into(), "acme.example".into());
    let code = w.idp.sign_in(&provider_url, answer);
    let reply = browser.get(&callback_path(&provider_url, Some(&code), None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn several_allowed_domains_send_no_hd_hint() {
    let w = world_with(&[("OIDC_ACME_ALLOWED_DOMAINS", "acme.example,acme.test")]).await;
    let provider_url = go_upstream(&w, &mut w.h.browser()).await;
    assert!(!query(&provider_url).contains_key("hd"));
}

fn without_email_verified(sub: &str, email: &str) -> Answer {
    let mut answer = Answer::verified(sub, email);
    answer.claims.insert("email_verified".into(), serde_json::Value::Null);
    answer
}

#[tokio::test]
async fn by_default_an_email_without_email_verified_is_not_verified() {
    let w = world().await;
    let reply = sign_in_upstream(
        &w,
        &mut w.h.browser(),
        without_email_verified("u-23", "tao@acme.example"),
    )
    .await;
    assert_retryable(&reply);
    assert!(reply.text().contains("verified email"));
    no_account(&w, "u-23", "tao@acme.example").await;
}

#[tokio::test]
async fn email_verified_always_trusts_a_provider_that_never_says() {
    let w = world_with(&[("OIDC_ACME_EMAIL_VERIFIED", "always")]).await;
    let reply = sign_in_upstream(
        &w,
        &mut w.h.browser(),
        without_email_verified("u-24", "uma@acme.example"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let mut denied = Answer::verified("u-25", "vic@acme.example");
    denied.email_verified = false;
    let reply = sign_in_upstream(&w, &mut w.h.browser(), denied).await;
    assert_retryable(&reply);
    no_account(&w, "u-25", "vic@acme.example").await;
}

#[tokio::test]
async fn email_verified_xms_edov_trusts_entras_domain_owner_claim_only() {
    let w = world_with(&[("OIDC_ACME_EMAIL_VERIFIED", "xms_edov")]).await;
    let mut owned = without_email_verified("u-26", "wes@acme.example");
    owned.claims.insert("xms_edov".into(), true.into());
    let reply = sign_in_upstream(&w, &mut w.h.browser(), owned).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let mut unowned = without_email_verified("u-27", "xia@acme.example");
    unowned.claims.insert("xms_edov".into(), false.into());
    let reply = sign_in_upstream(&w, &mut w.h.browser(), unowned).await;
    assert_retryable(&reply);
    assert!(reply.text().contains("verified email"));
    no_account(&w, "u-27", "xia@acme.example").await;
}

/// A fake GitHub on loopback: OAuth token endpoint and the REST API under `/api/v3`, as a GitHub
/// Enterprise Server serves them.
mod fake_github {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::routing::{get, post};
    use axum::{Form, Json, Router};
    use http::{HeaderMap, StatusCode};
    use serde_json::{Value, json};

    #[derive(Clone)]
    pub struct User {
        pub id: u64,
        pub email: String,
        /// Organisation login → membership state ("active" or "pending").
        pub orgs: Vec<(String, String)>,
    }

    #[derive(Clone)]
    pub struct GitHub {
        pub url: String,
        codes: Arc<Mutex<HashMap<String, User>>>,
        tokens: Arc<Mutex<HashMap<String, User>>>,
    }

    impl GitHub {
        pub async fn start() -> GitHub {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let gh = GitHub {
                url: format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port()),
                codes: Arc::default(),
                tokens: Arc::default(),
            };
            let app = Router::new()
                .route("/login/oauth/access_token", post(token))
                .route("/api/v3/user", get(user))
                .route("/api/v3/user/emails", get(emails))
                .route("/api/v3/user/memberships/orgs/{org}", get(membership))
                .with_state(gh.clone());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            gh
        }

        /// The user approves at GitHub: returns the code GitHub sends back.
        pub fn sign_in(&self, user: User) -> String {
            let code = mcp_oauth::crypto::random_token();
            self.codes.lock().unwrap().insert(code.clone(), user);
            code
        }

        fn user(&self, headers: &HeaderMap) -> Option<User> {
            let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
            self.tokens.lock().unwrap().get(token).cloned()
        }
    }

    async fn token(State(gh): State<GitHub>, Form(form): Form<HashMap<String, String>>) -> (StatusCode, Json<Value>) {
        let Some(user) = form.get("code").and_then(|c| gh.codes.lock().unwrap().remove(c)) else {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "bad_verification_code"})));
        };
        let access = mcp_oauth::crypto::random_token();
        gh.tokens.lock().unwrap().insert(access.clone(), user);
        (
            StatusCode::OK,
            Json(json!({"access_token": access, "token_type": "bearer"})),
        )
    }

    async fn user(State(gh): State<GitHub>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
        match gh.user(&headers) {
            Some(u) => (
                StatusCode::OK,
                Json(json!({"id": u.id, "login": format!("user{}", u.id)})),
            ),
            None => (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))),
        }
    }

    async fn emails(State(gh): State<GitHub>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
        match gh.user(&headers) {
            Some(u) => (
                StatusCode::OK,
                Json(json!([{"email": u.email, "primary": true, "verified": true}])),
            ),
            None => (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))),
        }
    }

    async fn membership(
        State(gh): State<GitHub>,
        Path(org): Path<String>,
        headers: HeaderMap,
    ) -> (StatusCode, Json<Value>) {
        let Some(u) = gh.user(&headers) else {
            return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"})));
        };
        match u.orgs.iter().find(|(o, _)| o.eq_ignore_ascii_case(&org)) {
            Some((o, state)) => (
                StatusCode::OK,
                Json(json!({"state": state, "role": "member", "organization": {"login": o}})),
            ),
            None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))),
        }
    }
}

struct GitHubWorld {
    h: Harness,
    gh: fake_github::GitHub,
    client: TestClient,
    _dir: tempfile::TempDir,
}

async fn github_world(allowed_orgs: &str) -> GitHubWorld {
    let gh = fake_github::GitHub::start().await;
    let (store, _, dir) = embedded();
    let h = Harness::with_config(
        store,
        &[
            ("GITHUB_CLIENT_ID", "Iv1.ours"),
            ("GITHUB_CLIENT_SECRET", "gh-secret"),
            ("GITHUB_URL", &gh.url),
            ("GITHUB_ALLOWED_ORGS", allowed_orgs),
        ],
    );
    let client = h.public_client().await;
    GitHubWorld {
        h,
        gh,
        client,
        _dir: dir,
    }
}

/// Signs in through the fake GitHub as `user`; returns our callback's answer.
async fn sign_in_with_github(w: &GitHubWorld, user: fake_github::User) -> Reply {
    let mut browser = w.h.browser();
    let provider_url = press(&w.client, &mut browser, "github", "GitHub").await;
    assert!(
        provider_url.starts_with(&format!("{}/login/oauth/authorize", w.gh.url)),
        "GITHUB_URL is where the browser goes: {provider_url}"
    );
    let q = query(&provider_url);
    assert_eq!(q["scope"], "read:user user:email read:org");
    let redirect = url::Url::parse(&q["redirect_uri"]).unwrap();
    assert_eq!(redirect.path(), "/oauth/callback/github");
    let code = w.gh.sign_in(user);
    let back = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("state", q["state"].as_str()), ("code", code.as_str())])
        .finish();
    browser.get(&format!("{}?{back}", redirect.path())).await
}

fn github_user(id: u64, email: &str, orgs: &[(&str, &str)]) -> fake_github::User {
    fake_github::User {
        id,
        email: email.into(),
        orgs: orgs.iter().map(|(o, s)| (o.to_string(), s.to_string())).collect(),
    }
}

#[tokio::test]
async fn a_github_user_active_in_an_allowed_organisation_signs_in() {
    let w = github_world("tools,acme-corp").await;
    let user = github_user(41, "yan@acme.example", &[("other", "active"), ("Acme-Corp", "active")]);
    let reply = sign_in_with_github(&w, user).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply.text().contains("value=\"approve\""),
        "the consent screen comes next"
    );
    assert!(
        w.h.store
            .get(Table::Users, &users::identity_key("github", "41"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_github_user_outside_the_allowed_organisations_is_refused_and_creates_no_account() {
    let w = github_world("acme-corp").await;
    let reply = sign_in_with_github(&w, github_user(42, "zoe@acme.example", &[("other", "active")])).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_retryable(&reply);
    assert!(
        reply
            .text()
            .contains("Your GitHub account is not a member of an organisation allowed here."),
        "{}",
        reply.text()
    );
    no_account_at(&w.h, "github", "42", "zoe@acme.example").await;
}

#[tokio::test]
async fn a_pending_github_invitation_is_not_membership() {
    let w = github_world("acme-corp").await;
    let reply = sign_in_with_github(&w, github_user(43, "abe@acme.example", &[("acme-corp", "pending")])).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    no_account_at(&w.h, "github", "43", "abe@acme.example").await;
}

// ---- Client secrets from Secrets Manager (against the emulator) ----

/// A provider whose client secret is the Secrets Manager secret `name` at `endpoint`.
fn by_secret_name(idp: &Idp, name: &str, endpoint: &str) -> Harness {
    let (store, _, dir) = embedded();
    std::mem::forget(dir); // the store outlives this helper; the OS reclaims the temp dir
    Harness::with_config(
        store,
        &[
            ("OIDC_PROVIDERS", "acme"),
            ("OIDC_ACME_ISSUER", idp.issuer.as_str()),
            ("OIDC_ACME_CLIENT_ID", "our-client-at-idp"),
            ("OIDC_ACME_CLIENT_SECRET_NAME", name),
            ("OIDC_ACME_NAME", "Acme SSO"),
            ("SECRETS_ENDPOINT", endpoint),
        ],
    )
}

#[tokio::test]
async fn a_client_secret_named_in_secrets_manager_is_read_and_used_for_the_code_exchange() {
    let endpoint = common::dynamo_endpoint();
    let name = format!("mcp-oauth/acme-{}", common::unique_prefix().trim_end_matches('-'));
    mcp_oauth::upstream::secret::connect(Some(&endpoint))
        .await
        .create_secret()
        .name(&name)
        .secret_string(r#"{"client_secret":"from-secrets-manager"}"#)
        .send()
        .await
        .expect("create the secret on the emulator");
    let idp = Idp::start("our-client-at-idp").await;
    *idp.client_secret.lock().unwrap() = Some("from-secrets-manager".into());
    let h = by_secret_name(&idp, &name, &endpoint);
    let client = h.public_web_client().await;
    let mut browser = h.browser();
    let provider_url = press(&client, &mut browser, "acme", "Acme SSO").await;
    assert!(
        provider_url.starts_with(&format!("{}/authorize", idp.issuer)),
        "{provider_url}"
    );
    let code = idp.sign_in(&provider_url, Answer::verified("u-sm", "sam@acme.example"));
    let consent = browser.get(&callback_path(&provider_url, Some(&code), None)).await;
    assert_eq!(
        consent.status,
        StatusCode::OK,
        "the provider accepted the secret: {}",
        consent.text()
    );
    assert!(consent.text().contains("value=\"approve\""));
}

#[tokio::test]
async fn secrets_manager_unreachable_makes_the_sign_in_button_a_503_retry_page() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let idp = Idp::start("our-client-at-idp").await;
    let h = by_secret_name(&idp, "mcp-oauth/unreachable", &endpoint);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let login = browser.get(&Harness::authorize_url(&client, &[])).await;
    let mut fields = common::oauth::inputs(&login.text());
    fields.retain(|k, _| !matches!(k.as_str(), "email" | "password"));
    fields.insert("provider".into(), "acme".into());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = browser.send(post_form("/oauth/authorize", &pairs)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
    assert!(reply.header("retry-after").is_some(), "503 says when to retry");
    assert_retryable(&reply);
}
