//! After a full flow (registration with a secret, sign-up, consent, code, tokens, refresh), no
//! stored record and no log line holds a usable client secret, password, code, token or cookie,
//! nor the private signing key (wrapped under KMS on the emulator, as in AWS).

mod common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::oauth::{Harness, PASSWORD};
use http::StatusCode;
use mcp_oauth::keys::Wrapping;
use mcp_oauth::kms::{Kms, Purpose};
use mcp_oauth::store::Table;
use p256::pkcs8::DecodePrivateKey;

/// Every stored signing key's PKCS#8 DER and raw scalar, unwrapped with KMS as the token function
/// would; and the request-state secret. At least one key, or the flow signed nothing.
async fn signing_keys(h: &Harness, kms: &Kms) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for item in h.store.query_by_owner(Table::Keys, "signing").await.unwrap() {
        let record: serde_json::Value = mcp_oauth::store::typed::body(&item).unwrap();
        let kid = record["kid"].as_str().unwrap();
        assert!(record.get("private_pem").is_none(), "a PEM is stored");
        let unwrap = |field: &str| {
            URL_SAFE_NO_PAD
                .decode(record["wrapped"][field].as_str().unwrap())
                .unwrap()
        };
        let der = kms.unwrap(&unwrap("key"), Purpose::SigningKey, kid).await.unwrap();
        let scalar = p256::SecretKey::from_pkcs8_der(&der).unwrap().to_bytes().to_vec();
        let seal = kms.unwrap(&unwrap("seal"), Purpose::RequestState, kid).await.unwrap();
        out.extend([
            ("PKCS#8 private key", der),
            ("private scalar", scalar),
            ("request-state secret", seal),
        ]);
    }
    assert!(!out.is_empty(), "the flow signed tokens, so a key is stored");
    out
}

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
    let kms = common::kms_key().await;
    let mut state = common::state(store);
    state.keys = state.keys.with_wrapping(Wrapping::Kms(kms.clone()));
    let h = Harness::with_state(state);
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
    // The signing key, in every form it could leak in: PEM, PKCS#8 DER, the raw scalar.
    secrets.push(("PEM private key", "PRIVATE KEY".to_owned()));
    for (what, bytes) in signing_keys(&h, &kms).await {
        secrets.push((what, STANDARD.encode(&bytes)));
        secrets.push((what, URL_SAFE_NO_PAD.encode(&bytes)));
        secrets.push((what, bytes.iter().map(|b| format!("{b:02x}")).collect()));
    }
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
