//! The storage contract: every backend must pass every test here. The suite runs once per backend
//! (`embedded::…` and `dynamodb::…` in the test output).

mod common;

use mcp_oauth::store::{Consumed, Item, Store, Table};
use serde_json::json;

fn item(key: &str) -> Item {
    Item::new(key, json!({"k": key}))
}

fn expiring(key: &str, at: i64) -> Item {
    let mut i = item(key);
    i.expires_at = Some(at);
    i
}

async fn create_writes_only_if_absent(s: Store) {
    assert!(s.create(Table::Codes, item("a")).await.unwrap());
    let mut other = item("a");
    other.body = json!({"k": "other"});
    assert!(!s.create(Table::Codes, other).await.unwrap());
    assert_eq!(s.get(Table::Codes, "a").await.unwrap().unwrap().body, json!({"k": "a"}));
}

async fn create_may_replace_an_expired_item(s: Store) {
    let now = s.clock().now();
    s.put(Table::Codes, expiring("a", now - 1)).await.unwrap();
    assert!(s.create(Table::Codes, expiring("a", now + 60)).await.unwrap());
    assert!(s.get(Table::Codes, "a").await.unwrap().is_some());
}

async fn expired_but_present_item_reads_as_absent(s: Store) {
    let now = s.clock().now();
    s.put(Table::Sessions, expiring("old", now - 1)).await.unwrap();
    s.put(Table::Sessions, expiring("live", now + 60)).await.unwrap();
    assert_eq!(s.get(Table::Sessions, "old").await.unwrap(), None);
    assert!(s.get(Table::Sessions, "live").await.unwrap().is_some());
    assert_eq!(s.consume(Table::Sessions, "old", None).await.unwrap(), Consumed::Absent);
    assert!(
        !s.compare_and_swap(Table::Sessions, expiring("old", now + 60), 1)
            .await
            .unwrap()
    );
}

async fn expiry_follows_the_clock(s: Store) {
    let now = s.clock().now();
    s.put(Table::Sessions, expiring("a", now + 30)).await.unwrap();
    assert!(s.get(Table::Sessions, "a").await.unwrap().is_some());
    s.clock().advance(31);
    assert_eq!(s.get(Table::Sessions, "a").await.unwrap(), None);
}

async fn consume_returns_the_item_exactly_once(s: Store) {
    s.put(Table::Codes, item("c")).await.unwrap();
    match s.consume(Table::Codes, "c", None).await.unwrap() {
        Consumed::Taken(i) => assert_eq!(i.body, json!({"k": "c"})),
        other => panic!("expected the item, got {other:?}"),
    }
    assert_eq!(s.consume(Table::Codes, "c", None).await.unwrap(), Consumed::Absent);
    assert_eq!(s.get(Table::Codes, "c").await.unwrap(), None);
}

async fn consume_with_wrong_guard_leaves_the_item(s: Store) {
    let mut i = item("c");
    i.guard = Some("binding".into());
    s.put(Table::Codes, i).await.unwrap();
    assert_eq!(
        s.consume(Table::Codes, "c", Some("other")).await.unwrap(),
        Consumed::GuardMismatch
    );
    assert!(
        s.get(Table::Codes, "c").await.unwrap().is_some(),
        "a failed guard must not consume"
    );
    assert!(matches!(
        s.consume(Table::Codes, "c", Some("binding")).await.unwrap(),
        Consumed::Taken(_)
    ));
}

async fn twenty_concurrent_consumes_have_one_winner(s: Store) {
    s.put(Table::Codes, item("c")).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.consume(Table::Codes, "c", None).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Consumed::Taken(_)) {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

/// A code-like item: guarded, expiring, belonging to a grant.
fn guarded(key: &str, now: i64) -> Item {
    let mut i = expiring(key, now + 60);
    i.guard = Some("binding".into());
    i.grant_id = Some("g1".into());
    i
}

async fn retire_returns_the_item_and_leaves_a_tombstone_with_its_attributes(s: Store) {
    let now = s.clock().now();
    s.put(Table::Codes, guarded("c", now)).await.unwrap();
    let tomb = json!({"retired": true});
    match s.retire(Table::Codes, "c", "binding", tomb.clone()).await.unwrap() {
        Consumed::Taken(i) => assert_eq!(i.body, json!({"k": "c"})),
        other => panic!("expected the item, got {other:?}"),
    }
    let stored = s.get(Table::Codes, "c").await.unwrap().expect("the tombstone stays");
    assert_eq!(stored.body, tomb);
    assert_eq!(stored.guard.as_deref(), Some("binding"));
    assert_eq!(stored.expires_at, Some(now + 60));
    assert_eq!(stored.grant_id.as_deref(), Some("g1"));
    assert_eq!(stored.version, 2);
    // Retiring again finds the tombstone.
    match s.retire(Table::Codes, "c", "binding", tomb.clone()).await.unwrap() {
        Consumed::Taken(i) => assert_eq!(i.body, tomb),
        other => panic!("expected the tombstone, got {other:?}"),
    }
}

async fn retire_with_wrong_guard_or_after_expiry_changes_nothing(s: Store) {
    let now = s.clock().now();
    s.put(Table::Codes, guarded("c", now)).await.unwrap();
    assert_eq!(
        s.retire(Table::Codes, "c", "other", json!({})).await.unwrap(),
        Consumed::GuardMismatch
    );
    assert_eq!(s.get(Table::Codes, "c").await.unwrap().unwrap().body, json!({"k": "c"}));
    assert_eq!(
        s.retire(Table::Codes, "absent", "binding", json!({})).await.unwrap(),
        Consumed::Absent
    );
    s.put(Table::Codes, expiring("old", now - 1)).await.unwrap();
    assert_eq!(
        s.retire(Table::Codes, "old", "binding", json!({})).await.unwrap(),
        Consumed::Absent
    );
}

async fn twenty_concurrent_retires_give_the_original_once(s: Store) {
    let now = s.clock().now();
    s.put(Table::Codes, guarded("c", now)).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.retire(Table::Codes, "c", "binding", json!({"retired": true}))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut originals = 0;
    for t in tasks {
        match t.await.unwrap() {
            Consumed::Taken(i) if i.body == json!({"k": "c"}) => originals += 1,
            Consumed::Taken(i) => assert_eq!(i.body, json!({"retired": true})),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(originals, 1);
}

async fn compare_and_swap_needs_the_current_version(s: Store) {
    s.put(Table::Grants, item("g")).await.unwrap();
    let mut next = item("g");
    next.body = json!({"k": "v2"});
    assert!(!s.compare_and_swap(Table::Grants, next.clone(), 7).await.unwrap());
    assert!(s.compare_and_swap(Table::Grants, next.clone(), 1).await.unwrap());
    let stored = s.get(Table::Grants, "g").await.unwrap().unwrap();
    assert_eq!((stored.version, stored.body), (2, json!({"k": "v2"})));
    assert!(
        !s.compare_and_swap(Table::Grants, next, 1).await.unwrap(),
        "a stale version must lose"
    );
    assert!(!s.compare_and_swap(Table::Grants, item("missing"), 1).await.unwrap());
}

async fn twenty_concurrent_swaps_of_one_version_have_one_winner(s: Store) {
    s.put(Table::Grants, item("g")).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut next = item("g");
                next.body = json!({ "n": n });
                s.compare_and_swap(Table::Grants, next, 1).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
    assert_eq!(s.get(Table::Grants, "g").await.unwrap().unwrap().version, 2);
}

async fn delete_by_grant_removes_only_that_grant(s: Store) {
    for (key, grant) in [("a", "g1"), ("b", "g1"), ("c", "g2")] {
        let mut i = item(key);
        i.grant_id = Some(grant.into());
        s.put(Table::Grants, i).await.unwrap();
    }
    assert_eq!(s.delete_by_grant(Table::Grants, "g1").await.unwrap(), 2);
    assert_eq!(s.get(Table::Grants, "a").await.unwrap(), None);
    assert_eq!(s.get(Table::Grants, "b").await.unwrap(), None);
    assert!(s.get(Table::Grants, "c").await.unwrap().is_some());
    assert_eq!(s.delete_by_grant(Table::Grants, "g1").await.unwrap(), 0);
}

async fn query_by_owner_lists_live_items_of_that_owner(s: Store) {
    let now = s.clock().now();
    for (key, owner, exp) in [
        ("a", "u1", None),
        ("b", "u1", Some(now - 1)),
        ("c", "u2", None),
        ("d", "u1", Some(now + 60)),
    ] {
        let mut i = item(key);
        i.owner = Some(owner.into());
        i.expires_at = exp;
        s.put(Table::AppData, i).await.unwrap();
    }
    let mut keys: Vec<String> = s
        .query_by_owner(Table::AppData, "u1")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    keys.sort();
    assert_eq!(keys, ["a", "d"]);
}

async fn get_many_reads_across_tables_and_skips_absent_keys(s: Store) {
    s.put(Table::Clients, item("client")).await.unwrap();
    s.put(Table::Sessions, item("session")).await.unwrap();
    let found = s
        .get_many(&[
            (Table::Clients, "client".into()),
            (Table::Sessions, "session".into()),
            (Table::Sessions, "missing".into()),
        ])
        .await
        .unwrap();
    let mut got: Vec<(Table, String)> = found.into_iter().map(|(t, i)| (t, i.key)).collect();
    got.sort();
    assert_eq!(
        got,
        [
            (Table::Clients, "client".to_owned()),
            (Table::Sessions, "session".to_owned())
        ]
    );
    assert_eq!(s.calls(), 3, "get_many is one store call");
}

async fn increment_counts_and_restarts_after_expiry(s: Store) {
    let now = s.clock().now();
    assert_eq!(s.increment(Table::Limits, "ip", now + 60).await.unwrap(), 1);
    assert_eq!(s.increment(Table::Limits, "ip", now + 60).await.unwrap(), 2);
    s.clock().advance(61);
    assert_eq!(s.increment(Table::Limits, "ip", now + 200).await.unwrap(), 1);
}

async fn twenty_concurrent_increments_all_count(s: Store) {
    let exp = s.clock().now() + 60;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.increment(Table::Limits, "k", exp).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=20).collect::<Vec<u64>>());
}

async fn put_replaces_and_delete_removes(s: Store) {
    s.put(Table::Users, item("u")).await.unwrap();
    let mut v2 = item("u");
    v2.body = json!({"k": "v2"});
    s.put(Table::Users, v2).await.unwrap();
    assert_eq!(
        s.get(Table::Users, "u").await.unwrap().unwrap().body,
        json!({"k": "v2"})
    );
    s.delete(Table::Users, "u").await.unwrap();
    assert_eq!(s.get(Table::Users, "u").await.unwrap(), None);
    s.delete(Table::Users, "u").await.unwrap();
}

async fn items_keep_every_attribute(s: Store) {
    let mut i = item("full");
    i.expires_at = Some(s.clock().now() + 60);
    i.owner = Some("o".into());
    i.grant_id = Some("g".into());
    i.guard = Some("h".into());
    i.body = json!({"nested": {"list": [1, "two", null]}, "unicode": "héllo ✓"});
    s.put(Table::Codes, i.clone()).await.unwrap();
    assert_eq!(s.get(Table::Codes, "full").await.unwrap(), Some(i));
}

async fn scan_lists_every_live_item_of_one_table(s: Store) {
    let now = s.clock().now();
    s.put(Table::Users, expiring("gone", now - 1)).await.unwrap();
    s.put(Table::Clients, item("elsewhere")).await.unwrap();
    // 300 items of 4 kB are more than one Scan page (1 MB): nothing may be lost between pages.
    let big = "x".repeat(4000);
    for n in 0..300 {
        s.put(Table::Users, Item::new(format!("u{n:03}"), json!({ "pad": big })))
            .await
            .unwrap();
    }
    let before = s.calls();
    let mut keys: Vec<String> = s.scan(Table::Users).await.unwrap().into_iter().map(|i| i.key).collect();
    assert_eq!(
        s.calls(),
        before + 1,
        "a scan counts as one store call, however many pages"
    );
    keys.sort();
    assert_eq!(keys, (0..300).map(|n| format!("u{n:03}")).collect::<Vec<_>>());
    assert!(s.scan(Table::Codes).await.unwrap().is_empty());
}

macro_rules! contract {
    ($backend:ident) => {
        mod $backend {
            use super::*;
            contract!(@tests $backend:
                create_writes_only_if_absent,
                create_may_replace_an_expired_item,
                expired_but_present_item_reads_as_absent,
                expiry_follows_the_clock,
                consume_returns_the_item_exactly_once,
                consume_with_wrong_guard_leaves_the_item,
                twenty_concurrent_consumes_have_one_winner,
                retire_returns_the_item_and_leaves_a_tombstone_with_its_attributes,
                retire_with_wrong_guard_or_after_expiry_changes_nothing,
                twenty_concurrent_retires_give_the_original_once,
                compare_and_swap_needs_the_current_version,
                twenty_concurrent_swaps_of_one_version_have_one_winner,
                delete_by_grant_removes_only_that_grant,
                query_by_owner_lists_live_items_of_that_owner,
                get_many_reads_across_tables_and_skips_absent_keys,
                increment_counts_and_restarts_after_expiry,
                twenty_concurrent_increments_all_count,
                put_replaces_and_delete_removes,
                items_keep_every_attribute,
                scan_lists_every_live_item_of_one_table,
            );
        }
    };
    (@tests embedded: $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _clock, _dir) = common::embedded();
                super::$name(store).await;
            }
        )*
    };
    (@tests dynamodb: $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _clock, _guard) = common::dynamo().await;
                super::$name(store).await;
            }
        )*
    };
}

contract!(embedded);
contract!(dynamodb);
