//! The account page: connected apps and their revocation, sign out everywhere, and deleting the
//! account, as the signed-in user's browser drives them.

mod common;
mod mcp_support;

use common::oauth::{Browser, Harness, PASSWORD, TestClient, inputs};
use common::{Reply, embedded, post_form};
use http::StatusCode;
use mcp_oauth::accounts::users;
use mcp_support::{LEGACY, post, rpc};
use serde_json::{Value, json};

/// A user signed up in `browser` who authorized `client`; returns the token response.
async fn connected(h: &Harness, browser: &mut Browser, client: &TestClient, email: &str) -> Value {
    let params = h.sign_up_and_approve(browser, client, email, &[]).await;
    let reply = h.redeem(client, &params["code"]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

async fn page(browser: &mut Browser) -> Reply {
    browser.get("/account").await
}

/// Posts one of the page's forms: `action`, the page's CSRF token, and `extra` fields.
async fn act(browser: &mut Browser, page: &Reply, action: &str, extra: &[(&str, &str)]) -> Reply {
    let csrf = inputs(&page.text()).get("csrf").cloned().unwrap_or_default();
    let mut fields = vec![("csrf", csrf.as_str()), ("action", action)];
    fields.extend_from_slice(extra);
    browser.send(post_form("/account", &fields)).await
}

/// The grant references the page's Revoke buttons carry.
fn references(page: &Reply) -> Vec<String> {
    page.text()
        .split(r#"name="grant" value=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

async fn tools_list(h: &Harness, token: &str) -> StatusCode {
    h.call(post(
        Some(token),
        &rpc(1, "tools/list", json!({})),
        &[("mcp-protocol-version", LEGACY)],
    ))
    .await
    .status
}

#[tokio::test]
async fn the_account_page_lists_connected_apps_with_their_scopes_and_dates() {
    let (store, _, _dir) = embedded();
    let h = Harness::new(store);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let tokens = connected(&h, &mut browser, &client, "apps@example.com").await;
    let listed = page(&mut browser).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let text = listed.text();
    assert!(
        text.contains("Signed in as <strong>apps@example.com</strong>"),
        "{text}"
    );
    assert!(text.contains("<bdi>Test Client</bdi>"), "{text}");
    assert!(text.contains("127.0.0.1:8765 (an app on this computer)"), "{text}");
    assert!(text.contains("See the list of tools this server offers"), "{text}");
    assert!(text.contains("Allowed 20"), "{text}");
    assert!(!text.contains("last used"), "no refresh yet: {text}");
    assert_eq!(references(&listed).len(), 1);
    // A refresh records when the grant was last used.
    h.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert!(page(&mut browser).await.text().contains("last used 20"));
    // The page names no secret: not the grant id, which is half of the refresh token.
    let grant_id = tokens["refresh_token"].as_str().unwrap().split_once('.').unwrap().0;
    assert!(!page(&mut browser).await.text().contains(grant_id));
}

#[tokio::test]
async fn revoking_on_the_page_ends_the_refresh_token_at_once_and_mcp_access_within_the_window() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let tokens = connected(&h, &mut browser, &client, "revoker@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(tools_list(&h, access).await, StatusCode::OK);
    let listed = page(&mut browser).await;
    let reference = references(&listed).remove(0);
    let done = act(&mut browser, &listed, "revoke", &[("grant", &reference)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.header("location"), Some("/account"));
    assert!(references(&page(&mut browser).await).is_empty());
    let refreshed = h.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.json()["error"], "invalid_grant");
    assert_eq!(tools_list(&h, access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoking_someone_elses_grant_changes_nothing_and_answers_the_same() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let client = h.public_client().await;
    let mut alice = h.browser();
    let alices = connected(&h, &mut alice, &client, "alice@example.com").await;
    let alices_ref = references(&page(&mut alice).await).remove(0);
    let mut mallory = h.browser();
    connected(&h, &mut mallory, &client, "mallory@example.com").await;
    let mallorys_page = page(&mut mallory).await;
    let foreign = act(&mut mallory, &mallorys_page, "revoke", &[("grant", &alices_ref)]).await;
    let made_up = act(&mut mallory, &mallorys_page, "revoke", &[("grant", "no-such-grant")]).await;
    assert_eq!(
        (foreign.status, foreign.header("location")),
        (made_up.status, made_up.header("location"))
    );
    assert_eq!(foreign.body, made_up.body);
    assert_eq!(
        tools_list(&h, alices["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    assert_eq!(references(&page(&mut alice).await), vec![alices_ref]);
}

#[tokio::test]
async fn account_forms_without_this_sessions_csrf_token_are_refused_with_a_page() {
    let (store, _, _dir) = embedded();
    let h = Harness::new(store);
    let client = h.public_client().await;
    let mut browser = h.browser();
    connected(&h, &mut browser, &client, "csrf-account@example.com").await;
    let listed = page(&mut browser).await;
    let reference = references(&listed).remove(0);
    for csrf in ["", "forged"] {
        let reply = browser
            .send(post_form(
                "/account",
                &[("csrf", csrf), ("action", "revoke"), ("grant", &reference)],
            ))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        assert!(reply.text().contains("This form expired"));
    }
    assert_eq!(references(&page(&mut browser).await).len(), 1);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_the_user() {
    let (store, _, _dir) = embedded();
    let h = Harness::new(store);
    let client = h.public_client().await;
    let mut here = h.browser();
    connected(&h, &mut here, &client, "everywhere@example.com").await;
    let mut elsewhere = h.browser();
    let login = elsewhere.get("/account").await;
    let csrf = inputs(&login.text())["csrf"].clone();
    let signed = elsewhere
        .send(post_form(
            "/account",
            &[
                ("csrf", &csrf),
                ("action", "login"),
                ("email", "everywhere@example.com"),
                ("password", PASSWORD),
            ],
        ))
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text());
    assert!(page(&mut elsewhere).await.text().contains("Your account"));
    let listed = page(&mut here).await;
    let done = act(&mut here, &listed, "sign_out_everywhere", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    for browser in [&mut here, &mut elsewhere] {
        let again = page(browser).await;
        assert!(
            again.text().contains("to manage your account"),
            "signed out: {}",
            again.text()
        );
    }
}

#[tokio::test]
async fn deleting_the_account_says_what_goes_then_removes_the_user_their_grants_notes_and_sign_in() {
    let (store, _, _dir) = embedded();
    let h = Harness::with_config(store, &[("REVOCATION_WINDOW", "0")]);
    let client = h.public_client().await;
    let mut browser = h.browser();
    let tokens = connected(&h, &mut browser, &client, "leaving@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let note = h
        .call(post(
            Some(access),
            &rpc(
                1,
                "tools/call",
                json!({"name": "notes_add", "arguments": {"text": "mine"}}),
            ),
            &[("mcp-protocol-version", LEGACY)],
        ))
        .await;
    assert_eq!(note.status, StatusCode::OK);
    let user_id = users::owner_of(&h.store, "leaving@example.com").await.unwrap().unwrap();

    let listed = page(&mut browser).await;
    let confirm = act(&mut browser, &listed, "delete_account", &[]).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let text = confirm.text();
    assert!(text.contains("Delete your account?"), "{text}");
    assert!(
        text.contains("1 connected app(s)") && text.contains("1 note(s)"),
        "{text}"
    );
    assert!(
        users::get(&h.store, &user_id).await.unwrap().is_some(),
        "nothing removed before confirming"
    );

    let gone = act(&mut browser, &confirm, "delete_confirmed", &[]).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text());
    assert!(gone.text().contains("Your account was deleted"));
    assert!(users::get(&h.store, &user_id).await.unwrap().is_none());
    assert!(
        users::owner_of(&h.store, "leaving@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users::log_in(&h.store, "leaving@example.com", PASSWORD, None)
            .await
            .is_err()
    );
    assert_eq!(tools_list(&h, access).await, StatusCode::UNAUTHORIZED);
    let notes = h
        .store
        .query_by_owner(mcp_oauth::store::Table::AppData, &format!("notes:{user_id}"))
        .await
        .unwrap();
    assert!(notes.is_empty());
    // The address is free again: a new sign-up is a new account.
    h.sign_up_and_approve(&mut h.browser(), &client, "leaving@example.com", &[])
        .await;
}
