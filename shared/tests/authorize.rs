//! The authorization endpoint: request validation (with errors shown, never redirected, until
//! the client and redirect URI are verified and the user has approved the client), sign-in,
//! consent (remembered only where the redirect proves the client's identity), `prompt`, and the
//! response's `code`, `state` and `iss`.

mod common;

use common::oauth::{Browser, Harness, ISSUER, PASSWORD, TestClient, redirect_params};
use common::{Reply, embedded};
use http::StatusCode;
use serde_json::json;

fn harness() -> (Harness, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    (Harness::new(store), dir)
}

/// An error page: 400, HTML, and no redirect.
fn assert_error_page(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(
        reply.header("location").is_none(),
        "must not redirect: {:?}",
        reply.header("location")
    );
    assert!(reply.header("content-type").unwrap().starts_with("text/html"));
}

/// An error page naming `error`, with no redirect: what a client the user has not approved gets.
fn assert_error_shown(reply: &Reply, error: &str) {
    assert_error_page(reply);
    assert!(
        reply.text().contains(error),
        "the page does not name {error}: {}",
        reply.text()
    );
}

/// A redirect to the client carrying `error`, `state` and `iss`.
fn assert_redirected_error(reply: &Reply, client: &TestClient, error: &str) {
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert!(reply.header("location").unwrap().starts_with(&client.redirect_uri));
    let params = redirect_params(reply);
    assert_eq!(params.get("error").map(String::as_str), Some(error), "{params:?}");
    assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    assert!(params.contains_key("error_description"));
}

async fn get(h: &Harness, client: &TestClient, extra: &[(&str, &str)]) -> Reply {
    h.browser().get(&Harness::authorize_url(client, extra)).await
}

#[tokio::test]
async fn success_redirects_with_code_state_and_the_issuer_as_iss() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let params = h
        .sign_up_and_approve(&mut h.browser(), &client, "ann@example.com", &[])
        .await;
    assert!(params["code"].len() >= 43);
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
}

#[tokio::test]
async fn unknown_client_shows_an_error_page_and_does_not_redirect() {
    let (h, _d) = harness();
    let mut client = h.public_client().await;
    client.id = "unknown".into();
    assert_error_page(&get(&h, &client, &[]).await);
}

#[tokio::test]
async fn redirect_uri_mismatch_shows_an_error_page_and_does_not_redirect() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    for uri in [
        "http://127.0.0.1:8765/other",
        "http://evil.example/callback",
        "http://127.0.0.1:8765/callback#x",
    ] {
        assert_error_page(&get(&h, &client, &[("redirect_uri", uri)]).await);
    }
}

#[tokio::test]
async fn unregistered_https_host_is_rejected_without_redirect() {
    let (h, _d) = harness();
    let client = h.confidential_client().await;
    assert_error_page(&get(&h, &client, &[("redirect_uri", "https://attacker.example/callback")]).await);
    assert_error_page(
        &get(
            &h,
            &client,
            &[("redirect_uri", "https://app.example.com:8443/callback")],
        )
        .await,
    );
}

#[tokio::test]
async fn loopback_redirect_uri_matches_on_any_port() {
    let (h, _d) = harness();
    let mut client = h.public_client().await;
    client.redirect_uri = "http://127.0.0.1:54321/callback".into();
    let params = h
        .sign_up_and_approve(&mut h.browser(), &client, "port@example.com", &[])
        .await;
    let reply = h.redeem(&client, &params["code"]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn plain_pkce_is_rejected() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    assert_error_shown(
        &get(&h, &client, &[("code_challenge_method", "plain")]).await,
        "invalid_request",
    );
}

#[tokio::test]
async fn missing_pkce_is_rejected() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    assert_error_shown(&get(&h, &client, &[("code_challenge", "")]).await, "invalid_request");
    assert_error_shown(
        &get(&h, &client, &[("code_challenge_method", "")]).await,
        "invalid_request",
    );
}

#[tokio::test]
async fn response_type_other_than_code_is_unsupported() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    assert_error_shown(
        &get(&h, &client, &[("response_type", "token")]).await,
        "unsupported_response_type",
    );
}

#[tokio::test]
async fn unknown_scope_is_invalid_scope() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    assert_error_shown(
        &get(&h, &client, &[("scope", "mcp:tools:read admin")]).await,
        "invalid_scope",
    );
}

#[tokio::test]
async fn foreign_resource_or_one_with_a_fragment_is_invalid_target() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    for r in ["https://other.example/mcp", "http://localhost:3000/mcp#frag"] {
        assert_error_shown(&get(&h, &client, &[("resource", r)]).await, "invalid_target");
    }
}

#[tokio::test]
async fn errors_for_a_client_the_user_has_not_approved_are_shown_not_redirected() {
    // RFC 9700 §4.11.2: anyone may register a redirect URI, so redirecting errors to it before any
    // approval would make this server an open redirector.
    let (h, _d) = harness();
    let reply = h
        .register(json!({"client_name": "Phish", "redirect_uris": ["https://evil.example/phish"]}))
        .await;
    let client_id = reply.json()["client_id"].as_str().unwrap().to_owned();
    let client = TestClient {
        id: client_id,
        secret: None,
        redirect_uri: "https://evil.example/phish".into(),
        verifier: mcp_oauth::crypto::random_token(),
    };
    for (extra, error) in [
        (("response_type", "x"), "unsupported_response_type"),
        (("scope", "nope"), "invalid_scope"),
        (("prompt", "none"), "login_required"),
    ] {
        let reply = get(&h, &client, &[extra]).await;
        assert_error_page(&reply);
        assert!(!reply.text().contains("evil.example/phish?"), "{error}");
    }
    // Signed in, but not having approved this client: still a page.
    let other = h.public_web_client().await;
    let mut browser = signed_up(&h, &other, "phished@example.com").await;
    for extra in [("response_type", "x"), ("prompt", "none")] {
        assert_error_page(&browser.get(&Harness::authorize_url(&client, &[extra])).await);
    }
}

#[tokio::test]
async fn errors_for_a_client_the_user_approved_are_redirected() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = signed_up(&h, &client, "approved@example.com").await;
    let reply = browser
        .get(&Harness::authorize_url(&client, &[("response_type", "token")]))
        .await;
    assert_redirected_error(&reply, &client, "unsupported_response_type");
    let reply = browser
        .get(&Harness::authorize_url(&client, &[("scope", "mcp:tools:read admin")]))
        .await;
    assert_redirected_error(&reply, &client, "invalid_scope");
}

#[tokio::test]
async fn omitted_scope_and_resource_get_the_defaults() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let params = h
        .sign_up_and_approve(
            &mut h.browser(),
            &client,
            "dflt@example.com",
            &[("scope", ""), ("resource", "")],
        )
        .await;
    let tokens = h
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &client.verifier),
            ],
        )
        .await
        .json();
    assert_eq!(tokens["scope"], "mcp:tools:read mcp:tools:execute profile:read");
}

#[tokio::test]
async fn duplicate_parameters_are_refused_with_an_error_page() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let url = format!("{}&state=again", Harness::authorize_url(&client, &[]));
    let reply = h.browser().get(&url).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.header("location").is_none());
}

#[tokio::test]
async fn pages_send_the_security_headers() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let reply = get(&h, &client, &[]).await;
    assert!(
        reply
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "no CORS on the authorize pages"
    );
}

#[tokio::test]
async fn session_cookie_is_host_prefixed_secure_httponly_and_lax() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = h.browser();
    let login = browser.get(&Harness::authorize_url(&client, &[])).await;
    let signup = browser.submit(&login, "show_signup", &[]).await;
    let verify = browser
        .submit(
            &signup,
            "signup",
            &[("email", "cookie@example.com"), ("password", PASSWORD)],
        )
        .await;
    let consent = h.enter_code(&mut browser, &verify, "cookie@example.com").await;
    let set = consent
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-session="));
    let set = set.expect("a session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(!set.contains("Domain"));
}

/// Signs `email` up through the pages and returns the browser, now holding a session.
async fn signed_up(h: &Harness, client: &TestClient, email: &str) -> Browser {
    let mut browser = h.browser();
    h.sign_up_and_approve(&mut browser, client, email, &[]).await;
    browser
}

#[tokio::test]
async fn repeat_authorization_with_remembered_consent_skips_the_consent_screen() {
    // An https redirect proves who the client is: the code can only reach that host.
    let (h, _d) = harness();
    let client = h.public_web_client().await;
    let mut browser = signed_up(&h, &client, "again@example.com").await;
    let reply = browser.get(&Harness::authorize_url(&client, &[])).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert!(redirect_params(&reply).contains_key("code"));
    let confidential = h.confidential_client().await;
    h.sign_up_and_approve(&mut browser, &confidential, "again2@example.com", &[])
        .await;
    let reply = browser.get(&Harness::authorize_url(&confidential, &[])).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert!(redirect_params(&reply).contains_key("code"));
}

#[tokio::test]
async fn remembered_consent_does_not_skip_the_page_for_a_loopback_public_client() {
    // RFC 8252 §8.6: any local process can send the client's id with another loopback port and
    // its own PKCE; without the page it would collect the code silently.
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = signed_up(&h, &client, "loop@example.com").await;
    let mut attacker = client.clone();
    attacker.redirect_uri = "http://127.0.0.1:31337/callback".into();
    attacker.verifier = mcp_oauth::crypto::random_token();
    let reply = browser.get(&Harness::authorize_url(&attacker, &[])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.text().contains("approve"), "the consent page is shown again");
    assert!(reply.header("location").is_none());
}

#[tokio::test]
async fn prompt_none_for_a_loopback_public_client_is_consent_required_despite_remembered_consent() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = signed_up(&h, &client, "loopnone@example.com").await;
    let mut attacker = client.clone();
    attacker.redirect_uri = "http://127.0.0.1:31337/callback".into();
    let reply = browser
        .get(&Harness::authorize_url(&attacker, &[("prompt", "none")]))
        .await;
    // The user approved this client, so the error may go back to it; no code does.
    assert_redirected_error(&reply, &attacker, "consent_required");
    assert!(!redirect_params(&reply).contains_key("code"));
}

#[tokio::test]
async fn remembered_consent_expires_after_consent_ttl() {
    let (h, _d) = harness();
    let client = h.public_web_client().await;
    let mut browser = signed_up(&h, &client, "expire@example.com").await;
    h.store.clock().advance(h.state.config.lifetimes.consent + 1);
    // The session has expired too: sign in again, then the consent page, not a code.
    let login = browser.get(&Harness::authorize_url(&client, &[])).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let reply = browser
        .submit(
            &login,
            "login",
            &[("email", "expire@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.text().contains("approve"), "expired consent asks again");
}

#[tokio::test]
async fn asking_for_a_new_scope_shows_consent_again() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = h.browser();
    h.sign_up_and_approve(
        &mut browser,
        &client,
        "grow@example.com",
        &[("scope", "mcp:tools:read")],
    )
    .await;
    let reply = browser
        .get(&Harness::authorize_url(
            &client,
            &[("scope", "mcp:tools:read profile:read")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains("approve"));
}

#[tokio::test]
async fn consent_page_says_access_stays_without_offline_access_too() {
    // A refresh token is issued to every client registered for the refresh grant, so every such
    // consent page says that access lasts.
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = h.browser();
    let login = browser
        .get(&Harness::authorize_url(&client, &[("scope", "mcp:tools:read")]))
        .await;
    let signup = browser.submit(&login, "show_signup", &[]).await;
    let verify = browser
        .submit(
            &signup,
            "signup",
            &[("email", "lasts@example.com"), ("password", PASSWORD)],
        )
        .await;
    let consent = h.enter_code(&mut browser, &verify, "lasts@example.com").await;
    assert!(consent.text().contains("approve"), "{}", consent.text());
    assert!(consent.text().contains("Stay connected"), "{}", consent.text());
}

#[tokio::test]
async fn prompt_consent_forces_the_consent_screen() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = signed_up(&h, &client, "force@example.com").await;
    let reply = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "consent")]))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains("approve"));
}

#[tokio::test]
async fn prompt_login_asks_for_a_fresh_sign_in() {
    let (h, _d) = harness();
    let client = h.public_web_client().await;
    let mut browser = signed_up(&h, &client, "fresh@example.com").await;
    let login = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "login")]))
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.text().contains("type=\"password\""));
    let done = browser
        .submit(
            &login,
            "login",
            &[("email", "fresh@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert!(redirect_params(&done).contains_key("code"));
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required_shown_as_a_page() {
    // No user, so no approval of the client: the error is not redirected (RFC 9700 §4.11.2).
    let (h, _d) = harness();
    let client = h.public_client().await;
    assert_error_page(&get(&h, &client, &[("prompt", "none")]).await);
}

#[tokio::test]
async fn prompt_none_without_consent_is_consent_required_shown_as_a_page() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let other = h.public_client().await;
    let mut browser = signed_up(&h, &client, "none@example.com").await;
    let reply = browser
        .get(&Harness::authorize_url(&other, &[("prompt", "none")]))
        .await;
    assert_error_page(&reply);
}

#[tokio::test]
async fn prompt_none_with_session_and_consent_returns_a_code() {
    let (h, _d) = harness();
    let client = h.public_web_client().await;
    let mut browser = signed_up(&h, &client, "silent@example.com").await;
    let reply = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(redirect_params(&reply).contains_key("code"));
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = h.browser();
    let login = browser.get(&Harness::authorize_url(&client, &[])).await;
    let signup = browser.submit(&login, "show_signup", &[]).await;
    let verify = browser
        .submit(
            &signup,
            "signup",
            &[("email", "deny@example.com"), ("password", PASSWORD)],
        )
        .await;
    let consent = h.enter_code(&mut browser, &verify, "deny@example.com").await;
    let reply = browser.submit(&consent, "deny", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let params = redirect_params(&reply);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["iss"], ISSUER);
}

#[tokio::test]
async fn consent_with_missing_or_wrong_csrf_token_is_refused() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = h.browser();
    let login = browser.get(&Harness::authorize_url(&client, &[])).await;
    let signup = browser.submit(&login, "show_signup", &[]).await;
    let verify = browser
        .submit(
            &signup,
            "signup",
            &[("email", "csrf@example.com"), ("password", PASSWORD)],
        )
        .await;
    let consent = h.enter_code(&mut browser, &verify, "csrf@example.com").await;
    for bad in ["", "forged"] {
        let reply = browser.submit(&consent, "approve", &[("csrf", bad)]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "csrf {bad:?}: {}", reply.text());
        assert!(reply.header("location").is_none());
    }
    // A token for one request cannot approve another: change the scope under the same token.
    let reply = browser
        .submit(&consent, "approve", &[("scope", "mcp:tools:read")])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        browser.submit(&consent, "approve", &[]).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn consent_token_from_another_session_is_refused() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut mallory = h.browser();
    let login = mallory.get(&Harness::authorize_url(&client, &[])).await;
    let signup = mallory.submit(&login, "show_signup", &[]).await;
    let verify = mallory
        .submit(
            &signup,
            "signup",
            &[("email", "mallory@example.com"), ("password", PASSWORD)],
        )
        .await;
    let mallorys_consent = h.enter_code(&mut mallory, &verify, "mallory@example.com").await;
    let mut victim = signed_up(&h, &client, "victim@example.com").await;
    let reply = victim.submit(&mallorys_consent, "approve", &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn login_form_without_its_csrf_cookie_is_refused() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = signed_up(&h, &client, "login-csrf@example.com").await;
    let login = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "login")]))
        .await;
    browser.cookies.remove("__Host-csrf");
    let reply = browser
        .submit(
            &login,
            "login",
            &[("email", "login-csrf@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.header("location").is_none());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    signed_up(&h, &client, "known@example.com").await;
    let mut answers = Vec::new();
    for email in ["known@example.com", "unknown@example.com"] {
        let mut browser = h.browser();
        let login = browser.get(&Harness::authorize_url(&client, &[])).await;
        let reply = browser
            .submit(&login, "login", &[("email", email), ("password", "wrong password!!")])
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let text = reply.text();
        let alert = text
            .split("role=\"alert\"")
            .nth(1)
            .unwrap_or_default()
            .split("</")
            .next()
            .unwrap_or_default()
            .to_owned();
        answers.push(alert);
    }
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn logout_ends_the_session_and_returns_to_the_sign_in_page() {
    let (h, _d) = harness();
    let client = h.public_client().await;
    let mut browser = signed_up(&h, &client, "bye@example.com").await;
    let consent = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "consent")]))
        .await;
    let mut fields = common::oauth::inputs(&consent.text());
    fields.insert("action".into(), "logout".into());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = browser.send(common::post_form("/oauth/logout", &pairs)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert!(!browser.cookies.contains_key("__Host-session"));
    let next = browser.get(reply.header("location").unwrap()).await;
    assert!(
        next.text().contains("type=\"password\""),
        "the sign-in page follows sign-out"
    );
}

#[tokio::test]
async fn cross_site_logout_without_the_token_is_refused() {
    let (h, _d) = harness();
    let client = h.public_web_client().await;
    let mut browser = signed_up(&h, &client, "stay@example.com").await;
    let reply = browser
        .send(common::post_form("/oauth/logout", &[("client_id", &client.id)]))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let again = browser.get(&Harness::authorize_url(&client, &[])).await;
    assert_eq!(again.status, StatusCode::FOUND, "still signed in");
}

#[tokio::test]
async fn remembered_consent_authorization_makes_at_most_three_store_calls() {
    let (h, _d) = harness();
    let client = h.public_web_client().await;
    let mut browser = signed_up(&h, &client, "budget@example.com").await;
    let before = h.store.calls();
    let reply = browser.get(&Harness::authorize_url(&client, &[])).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(
        h.store.calls() - before <= 3,
        "{} store calls",
        h.store.calls() - before
    );
}

#[tokio::test]
async fn client_registered_for_fewer_scopes_may_step_up_to_more() {
    let (h, _d) = harness();
    let reply = h
        .register(json!({"redirect_uris": ["http://127.0.0.1/cb"], "scope": "mcp:tools:read"}))
        .await
        .json();
    let client = TestClient {
        id: reply["client_id"].as_str().unwrap().into(),
        secret: None,
        redirect_uri: "http://127.0.0.1/cb".into(),
        verifier: mcp_oauth::crypto::random_token(),
    };
    let params = h
        .sign_up_and_approve(
            &mut h.browser(),
            &client,
            "stepup@example.com",
            &[("scope", "mcp:tools:read profile:read")],
        )
        .await;
    assert!(params.contains_key("code"), "{params:?}");
}

#[tokio::test]
async fn malformed_form_posts_get_an_error_page_not_a_500() {
    let (h, _d) = harness();
    let mut browser = h.browser();
    let json = browser
        .send(common::post_json("/oauth/authorize", &json!({"action": "login"})))
        .await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let junk = browser
        .send(common::post_form("/oauth/authorize", &[("action", "approve")]))
        .await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    assert!(junk.header("content-type").unwrap().starts_with("text/html"));
}
