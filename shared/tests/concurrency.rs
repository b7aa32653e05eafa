//! Races against the DynamoDB backend, where requests really run in parallel: a code is redeemed
//! once, and concurrent refreshes with one token all receive the same successor.

mod common;

use std::collections::HashSet;

use common::oauth::Harness;
use http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_redemptions_of_one_code_have_exactly_one_success() {
    let (store, _, _) = common::dynamo().await;
    let h = Harness::new(store);
    let client = h.public_client().await;
    let code = h.code_for(&client).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (h, client, code) = (h.clone(), client.clone(), code.clone());
            tokio::spawn(async move { h.redeem(&client, &code).await.status })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{status}"
        );
        ok += (status == StatusCode::OK) as usize;
    }
    assert_eq!(ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_with_one_token_get_the_same_successor_and_keep_the_grant() {
    let (store, _, _) = common::dynamo().await;
    let h = Harness::new(store);
    let (client, tokens) = h.tokens().await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (h, client, rt) = (h.clone(), client.clone(), rt.clone());
            tokio::spawn(async move { h.refresh(&client, &rt).await })
        })
        .collect();
    let mut successors = HashSet::new();
    for t in tasks {
        let reply = t.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        successors.insert(reply.json()["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "every caller gets the same successor");
    let successor = successors.into_iter().next().unwrap();
    assert_eq!(
        h.refresh(&client, &successor).await.status,
        StatusCode::OK,
        "the grant stays valid"
    );
}
