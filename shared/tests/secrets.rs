//! After a full flow (registration with a secret, sign-up, consent, code, tokens, refresh), no
//! stored record and no log line holds a usable client secret, password, code, token or cookie.

mod common;

use common::oauth::{Harness, PASSWORD};
use http::StatusCode;
use mcp_oauth::store::Table;

#[tokio::test]
async fn no_usable_secret_is_stored_or_logged_after_a_full_flow() {
    let logs = common::Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (store, backend) = common::dynamo_backend().await;
    let h = Harness::new(store);
    let client = h.confidential_client().await;
    let mut browser = h.browser();
    let params = h
        .sign_up_and_approve(&mut browser, &client, "secret-keeper@example.com", &[])
        .await;
    let code = params["code"].clone();
    let first = h.redeem(&client, &code).await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let second = h.refresh(&client, &r1).await.json();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    // A failed login too, so the throttle's records and events are covered.
    let login = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "login")]))
        .await;
    browser
        .submit(
            &login,
            "login",
            &[("email", "secret-keeper@example.com"), ("password", "a wrong password")],
        )
        .await;

    // The sign-up code, and a password reset link.
    let verification_code = common::code_in(&h.mails_to("secret-keeper@example.com")[0]);
    let login = browser
        .get(&Harness::authorize_url(&client, &[("prompt", "login")]))
        .await;
    let form = browser.submit(&login, "show_reset", &[]).await;
    browser
        .submit(&form, "request_reset", &[("email", "secret-keeper@example.com")])
        .await;
    let reset_token = common::reset_token_in(&h.last_mail_to("secret-keeper@example.com"));

    let mut secrets = vec![
        ("reset token", reset_token),
        // A six-digit code could match any six digits by chance; look for it as a value.
        ("verification code", format!("\"{verification_code}\"")),
        ("verification code", format!("={verification_code}")),
        ("client secret", client.secret.clone().unwrap()),
        ("password", PASSWORD.to_owned()),
        ("wrong password", "a wrong password".to_owned()),
        ("authorization code", code),
        ("code verifier", client.verifier.clone()),
        ("access token", first["access_token"].as_str().unwrap().to_owned()),
        (
            "refreshed access token",
            second["access_token"].as_str().unwrap().to_owned(),
        ),
        ("refresh token", r1.split_once('.').unwrap().1.to_owned()),
        ("rotated refresh token", r2.split_once('.').unwrap().1.to_owned()),
    ];
    for (name, value) in &browser.cookies {
        secrets.push(("cookie", format!("{name}={value}")));
        secrets.push(("cookie value", value.clone()));
    }

    let mut stored = String::new();
    for table in Table::ALL {
        let mut pages = backend
            .client()
            .scan()
            .table_name(backend.table_name(table))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            stored.push_str(&format!("{table}: {:?}\n", item.unwrap()));
        }
    }
    assert!(stored.contains("argon2id"), "the scan must see the stored records");
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("grant_issued"),
        "the capture must see the flow's events"
    );
    for (what, secret) in &secrets {
        assert!(!stored.contains(secret.as_str()), "the store holds a usable {what}");
        assert!(!logged.contains(secret.as_str()), "the logs hold a usable {what}");
    }
}
