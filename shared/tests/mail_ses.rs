//! The SES path of outgoing mail, against moto's SESv2 over HTTP: a sign-up's verification code
//! goes out through `SendEmail` from the configured sender, and the code it carries completes
//! the verification. moto, like SES, refuses a sender whose identity is not verified.

mod common;

use std::sync::Arc;

use common::oauth::{Harness, PASSWORD, app};
use http::StatusCode;
use mcp_oauth::app::AppState;
use mcp_oauth::mail::{Mailer, Message, Ses};
use serde_json::Value;

/// The messages moto's SES has accepted for `to`: (subject, body).
async fn sent_to(endpoint: &str, to: &str) -> Vec<(String, String)> {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t == to))
        })
        .map(|m| {
            (
                m["subject"].as_str().unwrap_or_default().to_owned(),
                m["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn verification_mail_goes_out_through_sesv2_on_moto() {
    let endpoint = common::dynamo_endpoint();
    let domain = format!("{}.mail.example", common::unique_prefix().trim_end_matches('-'));
    let from = format!("no-reply@{domain}");
    let ses = Ses::connect(&from, Some(&endpoint)).await;

    // SES refuses a sender whose identity is not verified; so does moto.
    let probe = Message {
        to: "probe@example.com".into(),
        subject: "probe".into(),
        text: "probe".into(),
    };
    assert!(ses.send(&probe).await.is_err(), "an unverified sender must be refused");
    ses.client()
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .expect("create the identity on moto");

    let (store, _) = common::dynamo_backend().await;
    let config = common::config_with(&[("MAIL", "ses"), ("MAIL_FROM", &from), ("SES_ENDPOINT", &endpoint)]);
    let state = common::serving(AppState::with_mailer(config, store.clone(), Arc::new(ses)));
    let h = Harness {
        router: app(state.clone()),
        state,
        store,
    };
    let client = h.public_client().await;
    let email = format!("{}@example.com", common::unique_prefix().trim_end_matches('-'));
    let mut browser = h.browser();
    let login = browser.get(&Harness::authorize_url(&client, &[])).await;
    let signup = browser.submit(&login, "show_signup", &[]).await;
    let verify = browser
        .submit(&signup, "signup", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text());

    let sent = sent_to(&endpoint, &email).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (subject, body) = &sent[0];
    assert!(subject.starts_with("Your code for"), "{subject}");
    let code = common::code_in(body);
    let consent = browser.submit(&verify, "verify_email", &[("code", &code)]).await;
    assert!(consent.text().contains("value=\"approve\""), "{}", consent.text());
}
