//! Accounts whose identity is verified: the sign-up code, its bounds, password reset, the sign-up
//! policy and invites, all driven through the pages as a browser would.

mod common;

use common::oauth::{Browser, Harness, PASSWORD, TestClient};
use common::{Reply, code_in, embedded, post_form, reset_token_in};
use http::StatusCode;
use mcp_oauth::accounts::{invites, users, verification};

fn harness(vars: &[(&str, &str)]) -> (Harness, tempfile::TempDir) {
    let (store, _, dir) = embedded();
    (Harness::with_config(store, vars), dir)
}

/// Opens the sign-up page for `client` and posts it; returns the answer (the verify page).
async fn sign_up(browser: &mut Browser, client: &TestClient, email: &str) -> Reply {
    let login = browser.get(&Harness::authorize_url(client, &[])).await;
    let signup = browser.submit(&login, "show_signup", &[]).await;
    browser
        .submit(&signup, "signup", &[("email", email), ("password", PASSWORD)])
        .await
}

fn set_cookie_names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn signup_shows_check_your_email_mails_a_code_and_starts_no_session() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let page = sign_up(&mut browser, &client, "new@example.com").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Check your email"), "{}", page.text());
    assert!(
        !browser.cookies.contains_key("__Host-session"),
        "no session before verification"
    );
    assert!(browser.cookies.contains_key(verification::COOKIE));
    let code = code_in(&h.last_mail_to("new@example.com"));
    assert_eq!(code.len(), 6);
}

#[tokio::test]
async fn an_unverified_account_cannot_complete_an_authorization() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    let mut browser = h.browser();
    sign_up(&mut browser, &client, "later@example.com").await;
    // Coming back without the code: still the sign-in page, and signing in asks for the code.
    let mut fresh = h.browser();
    let login = fresh.get(&Harness::authorize_url(&client, &[])).await;
    assert!(login.text().contains("Sign in"));
    let reply = fresh
        .submit(
            &login,
            "login",
            &[("email", "later@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains("Check your email"), "{}", reply.text());
    assert!(reply.header("location").is_none(), "no code was issued");
    // The code of the newest mail finishes it in that browser.
    let consent = h.enter_code(&mut fresh, &reply, "later@example.com").await;
    assert!(consent.text().contains("value=\"approve\""), "{}", consent.text());
}

#[tokio::test]
async fn a_verification_code_works_once_and_only_in_the_browser_that_asked() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let page = sign_up(&mut browser, &client, "once@example.com").await;
    let code = code_in(&h.last_mail_to("once@example.com"));
    // Another browser with the right code: it has no pending verification.
    let mut other = h.browser();
    let login = other.get(&Harness::authorize_url(&client, &[])).await;
    let elsewhere = other.submit(&login, "verify_email", &[("code", &code)]).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST, "{}", elsewhere.text());
    assert!(!other.cookies.contains_key("__Host-session"));
    // The right browser: consent; again: expired.
    let consent = browser.submit(&page, "verify_email", &[("code", &code)]).await;
    assert!(consent.text().contains("value=\"approve\""), "{}", consent.text());
    let again = browser.submit(&page, "verify_email", &[("code", &code)]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text());
    assert!(again.text().contains("expired"), "{}", again.text());
}

#[tokio::test]
async fn wrong_codes_are_bounded_by_attempts_even_in_parallel() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let page = sign_up(&mut browser, &client, "guess@example.com").await;
    let code = code_in(&h.last_mail_to("guess@example.com"));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut guesses = Vec::new();
    for _ in 0..20 {
        let mut b = browser.clone();
        let page = Reply {
            status: page.status,
            headers: page.headers.clone(),
            body: page.body.clone(),
        };
        guesses.push(tokio::spawn(async move {
            b.submit(&page, "verify_email", &[("code", wrong)]).await.status
        }));
    }
    let mut refused_outright = 0;
    for g in guesses {
        let status = g.await.unwrap();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        refused_outright += usize::from(status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(refused_outright, 20 - verification::MAX_ATTEMPTS as usize);
    // Even the right code is refused now: the guesses used the code up.
    let right = browser.submit(&page, "verify_email", &[("code", &code)]).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "{}", right.text());
    assert!(!browser.cookies.contains_key("__Host-session"));
}

#[tokio::test]
async fn codes_expire_and_resends_are_spaced_and_replace_the_old_code() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let page = sign_up(&mut browser, &client, "slow@example.com").await;
    let first = code_in(&h.last_mail_to("slow@example.com"));
    let early = browser.submit(&page, "resend_code", &[]).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS, "{}", early.text());
    h.store.clock().advance(verification::RESEND_AFTER + 1);
    let resent = browser.submit(&page, "resend_code", &[]).await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text());
    assert_eq!(h.mails_to("slow@example.com").len(), 2);
    let second = code_in(&h.last_mail_to("slow@example.com"));
    if first != second {
        let old = browser.submit(&page, "verify_email", &[("code", &first)]).await;
        assert_eq!(old.status, StatusCode::BAD_REQUEST, "the old code no longer works");
    }
    h.store.clock().advance(verification::CODE_TTL + 1);
    let late = browser.submit(&page, "verify_email", &[("code", &second)]).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.text());
    assert!(late.text().contains("expired"), "{}", late.text());
}

#[tokio::test]
async fn signup_for_an_existing_email_looks_like_a_new_signup_and_mails_a_notice() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    h.sign_up_and_approve(&mut h.browser(), &client, "taken@example.com", &[])
        .await;
    let mut first = h.browser();
    let known = sign_up(&mut first, &client, "taken@example.com").await;
    let mut second = h.browser();
    let unknown = sign_up(&mut second, &client, "fresh@example.com").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(set_cookie_names(&known), set_cookie_names(&unknown));
    let strip = |r: &Reply, email: &str| {
        let text = r.text().replace(email, "EMAIL");
        // The forms' CSRF values differ per browser; nothing else may.
        text.split("name=\"csrf\" value=\"")
            .map(|part| part.split_once('"').map_or(part, |(_, rest)| rest).to_owned())
            .collect::<Vec<_>>()
            .join("")
    };
    assert_eq!(strip(&known, "taken@example.com"), strip(&unknown, "fresh@example.com"));
    let notice = h.last_mail_to("taken@example.com");
    assert!(notice.contains("already has one"), "{notice}");
    assert!(!notice.contains("verification code"), "{notice}");
}

#[tokio::test]
async fn password_reset_answers_the_same_for_known_and_unknown_addresses() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    h.sign_up_and_approve(&mut h.browser(), &client, "member@example.com", &[])
        .await;
    let mut answers = Vec::new();
    for email in ["member@example.com", "stranger@example.com"] {
        let mut b = h.browser();
        let login = b.get(&Harness::authorize_url(&client, &[])).await;
        let form = b.submit(&login, "show_reset", &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        let sent = b.submit(&form, "request_reset", &[("email", email)]).await;
        answers.push((sent.status, sent.text().replace(email, "EMAIL")));
    }
    let strip_csrf = |t: &str| {
        t.split("name=\"csrf\" value=\"")
            .map(|p| p.split_once('"').map_or(p, |(_, r)| r).to_owned())
            .collect::<String>()
    };
    assert_eq!(answers[0].0, answers[1].0);
    assert_eq!(strip_csrf(&answers[0].1), strip_csrf(&answers[1].1));
    // Both addresses got one mail: a link for the member, a notice for the stranger.
    assert!(h.last_mail_to("member@example.com").contains("/oauth/reset?token="));
    let notice = h.last_mail_to("stranger@example.com");
    assert!(notice.contains("there is no account"), "{notice}");
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_ends_every_session() {
    let (h, _d) = harness(&[]);
    // An https client: remembered consent may skip the page for it.
    let client = h.public_web_client().await;
    let mut signed_in = h.browser();
    h.sign_up_and_approve(&mut signed_in, &client, "reset@example.com", &[])
        .await;
    // The session works before the reset: remembered consent gives a code at once.
    let before = signed_in.get(&Harness::authorize_url(&client, &[])).await;
    assert_eq!(before.status, StatusCode::FOUND);

    let mut b = h.browser();
    let login = b.get(&Harness::authorize_url(&client, &[])).await;
    let form = b.submit(&login, "show_reset", &[]).await;
    b.submit(&form, "request_reset", &[("email", "reset@example.com")])
        .await;
    let token = reset_token_in(&h.last_mail_to("reset@example.com"));
    // Opening the link (a mail scanner does) does not use it up.
    let page = b.get(&format!("/oauth/reset?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = b.get(&format!("/oauth/reset?token={token}")).await;
    let csrf = common::oauth::inputs(&page.text())["csrf"].clone();
    let new_password = "a brand new passphrase here";
    let weak = b
        .send(post_form(
            "/oauth/reset",
            &[("token", &token), ("csrf", &csrf), ("password", "short")],
        ))
        .await;
    assert_eq!(
        weak.status,
        StatusCode::BAD_REQUEST,
        "a weak password keeps the link usable"
    );
    let done = b
        .send(post_form(
            "/oauth/reset",
            &[("token", &token), ("csrf", &csrf), ("password", new_password)],
        ))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.text().contains("Password changed"));
    let again = b
        .send(post_form(
            "/oauth/reset",
            &[("token", &token), ("csrf", &csrf), ("password", new_password)],
        ))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text());
    // Every session ended; the old password is gone, the new one works.
    let after = signed_in.get(&Harness::authorize_url(&client, &[])).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the old session is signed out: {}",
        after.text()
    );
    assert!(
        users::log_in(&h.store, "reset@example.com", PASSWORD, None)
            .await
            .is_err()
    );
    assert!(
        users::log_in(&h.store, "reset@example.com", new_password, None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_reset_without_its_csrf_cookie_is_refused() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    h.sign_up_and_approve(&mut h.browser(), &client, "csrfreset@example.com", &[])
        .await;
    let mut b = h.browser();
    let login = b.get(&Harness::authorize_url(&client, &[])).await;
    let form = b.submit(&login, "show_reset", &[]).await;
    b.submit(&form, "request_reset", &[("email", "csrfreset@example.com")])
        .await;
    let token = reset_token_in(&h.last_mail_to("csrfreset@example.com"));
    let reply = h
        .call(post_form(
            "/oauth/reset",
            &[
                ("token", &token),
                ("csrf", "forged"),
                ("password", "another fine passphrase"),
            ],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        users::log_in(&h.store, "csrfreset@example.com", PASSWORD, None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn closed_signup_refuses_with_a_page_and_creates_nothing() {
    let (h, _d) = harness(&[("SIGNUP", "closed")]);
    let client = h.public_client().await;
    let mut b = h.browser();
    let reply = sign_up(&mut b, &client, "nobody@example.com").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert!(reply.text().contains("cannot be created"), "{}", reply.text());
    assert!(users::owner_of(&h.store, "nobody@example.com").await.unwrap().is_none());
    assert!(h.mails_to("nobody@example.com").is_empty());
}

#[tokio::test]
async fn the_email_domain_list_applies_to_signup_and_to_sign_in() {
    let (h, _d) = harness(&[("SIGNUP_EMAIL_DOMAINS", "corp.example")]);
    let client2 = h.public_client().await;
    let mut b = h.browser();
    let refused = sign_up(&mut b, &client2, "outsider@else.example").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(refused.text().contains("corp.example"));
    assert!(
        users::owner_of(&h.store, "outsider@else.example")
            .await
            .unwrap()
            .is_none()
    );
    h.sign_up_and_approve(&mut h.browser(), &client2, "insider@corp.example", &[])
        .await;
    // An account made before the list narrowed is refused at sign-in.
    users::sign_up(&h.store, "legacy@else.example", PASSWORD).await.unwrap();
    let mut b = h.browser();
    let login = b.get(&Harness::authorize_url(&client2, &[])).await;
    let reply = b
        .submit(
            &login,
            "login",
            &[("email", "legacy@else.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
}

#[tokio::test]
async fn invite_mode_needs_an_invite_link_and_spends_it_once() {
    let (h, _d) = harness(&[("SIGNUP", "invite")]);
    let client = h.public_client().await;
    let mut uninvited = h.browser();
    let refused = sign_up(&mut uninvited, &client, "uninvited@example.com").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());

    let token = invites::create(&h.store, None, invites::DEFAULT_TTL).await.unwrap();
    let mut invited = h.browser();
    let page = invited.get(&format!("/oauth/invite?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(invited.cookies.contains_key(invites::COOKIE));
    let verify = sign_up(&mut invited, &client, "invited@example.com").await;
    assert!(verify.text().contains("Check your email"), "{}", verify.text());
    let consent = h.enter_code(&mut invited, &verify, "invited@example.com").await;
    assert!(consent.text().contains("value=\"approve\""));
    // The invite is spent: a second browser holding the same link cannot use it.
    let mut second = h.browser();
    let gone = second.get(&format!("/oauth/invite?token={token}")).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
    second.cookies.insert(invites::COOKIE.into(), token.clone());
    let refused = sign_up(&mut second, &client, "second@example.com").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
}

#[tokio::test]
async fn an_invite_for_one_address_admits_only_that_address() {
    let (h, _d) = harness(&[("SIGNUP", "invite"), ("SIGNUP_EMAIL_DOMAINS", "corp.example")]);
    let client = h.public_client().await;
    let token = invites::create(&h.store, Some("guest@partner.example"), 3600)
        .await
        .unwrap();
    let mut b = h.browser();
    b.get(&format!("/oauth/invite?token={token}")).await;
    let wrong = sign_up(&mut b, &client, "someone@partner.example").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.text());
    let right = sign_up(&mut b, &client, "guest@partner.example").await;
    assert!(right.text().contains("Check your email"), "{}", right.text());
}

#[tokio::test]
async fn signups_are_throttled_per_source_address() {
    let (h, _d) = harness(&[]);
    let client = h.public_client().await;
    let mut last = StatusCode::OK;
    for i in 0..=mcp_oauth::endpoints::authorize::email::SIGNUPS_PER_HOUR {
        let mut b = h.browser();
        last = sign_up(&mut b, &client, &format!("bulk{i}@example.com")).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_and_its_grants_are_gone() {
    let (h, _d) = harness(&[("REVOCATION_WINDOW", "0")]);
    let (client, tokens) = h.tokens().await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    // The harness signs up a random address; find its user through the grant.
    let users = mcp_oauth::accounts::admin::list_users(&h.store).await.unwrap();
    assert_eq!(users.len(), 1);
    let user = &users[0];
    mcp_oauth::accounts::admin::disable_user(&h.store, &user.id)
        .await
        .unwrap();
    let refreshed = h.refresh(&client, refresh).await;
    assert_eq!(
        refreshed.json()["error"],
        "invalid_grant",
        "disabling revokes the grants"
    );
    let mut b = h.browser();
    let login = b.get(&Harness::authorize_url(&client, &[])).await;
    let reply = b
        .submit(&login, "login", &[("email", &user.email), ("password", PASSWORD)])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert!(reply.text().contains("disabled"), "{}", reply.text());
    assert!(!b.cookies.contains_key("__Host-session"));
}
