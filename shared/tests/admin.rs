//! Operator actions (`mcp_oauth::accounts::admin`): disabling cuts a user off, deleting removes
//! everything of theirs in an order that is safe to retry after a failure at any step, deleting a
//! client revokes its grants, grants are named by prefix only, invites make working links.
//!
//! The command line over these is tested in `infra/admin/tests/cli.rs`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use catalog::notes::Note;
use mcp_oauth::accounts::admin::{self, AdminError, GrantFilter};
use mcp_oauth::accounts::{invites, sessions, users};
use mcp_oauth::clients::{AuthMethod, Client};
use mcp_oauth::clock::Clock;
use mcp_oauth::config::Config;
use mcp_oauth::store::embedded::EmbeddedStore;
use mcp_oauth::store::{Backend, Consumed, Item, Store, StoreError, StoreResult, Table, typed};
use mcp_oauth::tokens::grants::{self, NewGrant};
use mcp_oauth::tokens::lifetimes::Lifetimes;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

fn lifetimes() -> Lifetimes {
    Config::from_lookup(|_| None).expect("default config").lifetimes
}

/// A user with every kind of record: password login, an upstream identity, a session, a grant,
/// a note and a consent. Returns the user id and the grant id.
async fn full_user(store: &Store, email: &str, client_id: &str) -> (String, String) {
    let user = users::sign_up(store, email, PASSWORD).await.expect("sign up");
    users::mark_verified(store, &user.id).await.expect("verify");
    let identity = users::identity_key("github", &format!("gh-{}", user.id));
    let linked = users::find_or_link_verified(store, &identity, email)
        .await
        .expect("link identity");
    assert_eq!(linked.id, user.id);
    sessions::create(store, &user.id, 3600).await.expect("session");
    let grant_id = mcp_oauth::crypto::random_token();
    let new = NewGrant {
        user_id: user.id.clone(),
        client_id: client_id.to_owned(),
        scope: vec!["mcp:tools:read".into()],
        resource: "http://localhost:3000/mcp".into(),
    };
    grants::create(store, &grant_id, new, &lifetimes())
        .await
        .expect("grant")
        .expect("new grant");
    let note = Note {
        id: "n1".into(),
        text: "remember the milk".into(),
        created_at: store.clock().now(),
    };
    let mut item = typed::item(format!("note:{}:n1", user.id), &note).expect("note item");
    item.owner = Some(format!("notes:{}", user.id));
    store.put(Table::AppData, item).await.expect("note");
    let mut consent = Item::new(
        format!("consent-{}", user.id),
        json!({"client_id": client_id, "resource": "http://localhost:3000/mcp", "scope": ["mcp:tools:read"], "updated_at": 0}),
    );
    consent.owner = Some(user.id.clone());
    store.put(Table::Consents, consent).await.expect("consent");
    // Grants are stored, listed and revoked under their reference (the grant id itself is half
    // of every refresh token and is stored nowhere).
    (user.id, grants::reference(&grant_id))
}

fn client(id: &str) -> Client {
    Client {
        client_id: id.to_owned(),
        client_name: Some(format!("App {id}")),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        auth_method: AuthMethod::ClientSecretBasic,
        secret_hash: Some("c2VjcmV0LWhhc2gtdGhhdC1tdXN0LW5vdC1sZWFr".into()),
        created_at: 0,
        metadata: Default::default(),
    }
}

/// What of a user is left in the store.
#[derive(Debug)]
struct Left {
    user: bool,
    ways_in: usize,
    sessions: usize,
    grants: usize,
    notes: usize,
    consents: usize,
}

async fn left(store: &Store, user_id: &str) -> Left {
    let ways_in = store
        .scan(Table::Users)
        .await
        .unwrap()
        .iter()
        .filter(|i| !i.key.starts_with("user#") && i.body["user_id"] == user_id)
        .count();
    Left {
        user: users::get(store, user_id).await.unwrap().is_some(),
        ways_in,
        sessions: store.query_by_owner(Table::Sessions, user_id).await.unwrap().len(),
        grants: store.query_by_owner(Table::Grants, user_id).await.unwrap().len(),
        notes: store
            .query_by_owner(Table::AppData, &format!("notes:{user_id}"))
            .await
            .unwrap()
            .len(),
        consents: store.query_by_owner(Table::Consents, user_id).await.unwrap().len(),
    }
}

/// A backend that fails every call from the `fail_at`-th on (counting from 1) while armed, as
/// a store going down in the middle of a deletion would.
struct Flaky {
    inner: EmbeddedStore,
    calls: Arc<AtomicU64>,
    fail_at: Arc<AtomicU64>,
}

impl Flaky {
    fn check(&self) -> StoreResult<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.fail_at.load(Ordering::SeqCst);
        if at != 0 && n >= at {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for Flaky {
    fn clock(&self) -> &Clock {
        self.inner.clock()
    }
    async fn create(&self, table: Table, item: Item) -> StoreResult<bool> {
        self.check()?;
        self.inner.create(table, item).await
    }
    async fn get(&self, table: Table, key: &str) -> StoreResult<Option<Item>> {
        self.check()?;
        self.inner.get(table, key).await
    }
    async fn get_many(&self, keys: &[(Table, String)]) -> StoreResult<Vec<(Table, Item)>> {
        self.check()?;
        self.inner.get_many(keys).await
    }
    async fn put(&self, table: Table, item: Item) -> StoreResult<()> {
        self.check()?;
        self.inner.put(table, item).await
    }
    async fn consume(&self, table: Table, key: &str, guard: Option<&str>) -> StoreResult<Consumed> {
        self.check()?;
        self.inner.consume(table, key, guard).await
    }
    async fn retire(
        &self,
        table: Table,
        key: &str,
        guard: &str,
        tombstone: serde_json::Value,
    ) -> StoreResult<Consumed> {
        self.check()?;
        self.inner.retire(table, key, guard, tombstone).await
    }
    async fn compare_and_swap(&self, table: Table, item: Item, expected: u64) -> StoreResult<bool> {
        self.check()?;
        self.inner.compare_and_swap(table, item, expected).await
    }
    async fn delete(&self, table: Table, key: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.delete(table, key).await
    }
    async fn delete_by_grant(&self, table: Table, grant_id: &str) -> StoreResult<usize> {
        self.check()?;
        self.inner.delete_by_grant(table, grant_id).await
    }
    async fn query_by_owner(&self, table: Table, owner: &str) -> StoreResult<Vec<Item>> {
        self.check()?;
        self.inner.query_by_owner(table, owner).await
    }
    async fn increment(&self, table: Table, key: &str, expires_at: i64) -> StoreResult<u64> {
        self.check()?;
        self.inner.increment(table, key, expires_at).await
    }
    async fn scan(&self, table: Table) -> StoreResult<Vec<Item>> {
        self.check()?;
        self.inner.scan(table).await
    }
}

#[tokio::test]
async fn delete_user_interrupted_at_any_step_leaves_no_way_in_without_data_and_a_retry_finishes() {
    for fail_at in 1.. {
        let dir = tempfile::tempdir().unwrap();
        let (calls, arm) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let store = Store::new(Flaky {
            inner: EmbeddedStore::open(&dir.path().join("s.redb"), Clock::system()).unwrap(),
            calls: calls.clone(),
            fail_at: arm.clone(),
        });
        let (user_id, _) = full_user(&store, "doomed@example.com", "app").await;
        calls.store(0, Ordering::SeqCst);
        arm.store(fail_at, Ordering::SeqCst);
        let outcome = admin::delete_user(&store, &user_id).await;
        arm.store(0, Ordering::SeqCst);
        let after = left(&store, &user_id).await;
        if outcome.is_ok() {
            assert!(fail_at > 6, "the failure must have hit every step before");
            assert!(!after.user && after.ways_in + after.sessions + after.grants + after.notes + after.consents == 0);
            break;
        }
        assert!(
            matches!(outcome, Err(AdminError::Store(StoreError::Unavailable(_)))),
            "{outcome:?}"
        );
        let any_way_in = after.ways_in + after.sessions + after.grants > 0;
        if any_way_in {
            assert!(
                after.notes == 1 && after.consents == 1 && after.user,
                "failing at call {fail_at}: a way in is left but data is gone: {after:?}"
            );
        }
        if after.notes + after.consents > 0 {
            assert!(
                after.user,
                "failing at call {fail_at}: data without its user record: {after:?}"
            );
        }
        if after.user {
            let user = users::get(&store, &user_id).await.unwrap().unwrap();
            assert!(
                user.disabled || fail_at <= 2,
                "failing at call {fail_at}: the account must be disabled before anything else goes"
            );
            admin::delete_user(&store, &user_id).await.expect("the retry finishes");
        }
        let retried = left(&store, &user_id).await;
        assert!(
            !retried.user
                && retried.ways_in + retried.sessions + retried.grants + retried.notes + retried.consents == 0,
            "failing at call {fail_at}, then retrying: {retried:?}"
        );
        let login = users::log_in(&store, "doomed@example.com", PASSWORD, None).await;
        assert!(login.is_err(), "a deleted user cannot sign in");
    }
}

#[tokio::test]
async fn deleting_a_user_removes_only_theirs() {
    let (store, _clock, _dir) = common::embedded();
    let (doomed, _) = full_user(&store, "doomed@example.com", "app").await;
    let (kept, kept_grant) = full_user(&store, "kept@example.com", "app").await;
    let plan = admin::delete_user_plan(&store, &doomed).await.unwrap();
    assert_eq!(
        (plan.logins, plan.sessions, plan.grants, plan.notes, plan.consents),
        (2, 1, 1, 1, 1)
    );
    let removed = admin::delete_user(&store, &doomed).await.unwrap();
    assert_eq!(removed, plan);
    let other = left(&store, &kept).await;
    assert!(other.user && other.ways_in == 2 && other.grants == 1 && other.notes == 1 && other.consents == 1);
    assert!(store.get(Table::Grants, &kept_grant).await.unwrap().is_some());
    assert!(matches!(
        admin::delete_user(&store, &doomed).await,
        Err(AdminError::NotFound(_))
    ));
}

#[tokio::test]
async fn disabling_a_user_revokes_grants_and_ends_sessions_and_enabling_keeps_their_data() {
    let (store, _clock, _dir) = common::embedded();
    let (user_id, grant_id) = full_user(&store, "paused@example.com", "app").await;
    let removed = admin::disable_user(&store, &user_id).await.unwrap();
    assert_eq!((removed.grants, removed.sessions), (1, 1));
    let user = users::get(&store, &user_id).await.unwrap().unwrap();
    assert!(users::is_disabled(&user));
    assert_eq!(store.get(Table::Grants, &grant_id).await.unwrap(), None);
    let after = left(&store, &user_id).await;
    assert_eq!(
        (after.sessions, after.grants, after.notes, after.consents),
        (0, 0, 1, 1)
    );
    let user = admin::enable_user(&store, &user_id).await.unwrap();
    assert!(!user.disabled);
    assert!(matches!(
        admin::disable_user(&store, "nobody").await,
        Err(AdminError::NotFound(_))
    ));
}

#[tokio::test]
async fn users_are_found_by_id_or_email_and_listed_without_password_hashes() {
    let (store, _clock, _dir) = common::embedded();
    let (user_id, _) = full_user(&store, "Someone@Example.com", "app").await;
    assert_eq!(
        admin::find_user(&store, "someone@example.com").await.unwrap().id,
        user_id
    );
    let detail = admin::show_user(&store, &user_id).await.unwrap();
    assert!(detail.has_email_login);
    assert_eq!(detail.identities, [format!("github#gh-{user_id}")]);
    assert_eq!(detail.grants.len(), 1);
    let listed = serde_json::to_string(&admin::list_users(&store).await.unwrap()).unwrap();
    assert!(listed.contains(&user_id) && !listed.contains("argon2"), "{listed}");
}

#[tokio::test]
async fn deleting_a_client_revokes_its_grants_and_consents_only() {
    let (store, _clock, _dir) = common::embedded();
    for id in ["app", "other"] {
        assert!(mcp_oauth::clients::create(&store, &client(id)).await.unwrap());
    }
    let (user_id, app_grant) = full_user(&store, "a@example.com", "app").await;
    let (_, other_grant) = full_user(&store, "b@example.com", "other").await;
    let plan = admin::delete_client_plan(&store, "app").await.unwrap();
    assert_eq!((plan.grants, plan.consents), (1, 1));
    let removed = admin::delete_client(&store, "app").await.unwrap();
    assert_eq!((removed.grants, removed.consents), (1, 1));
    assert_eq!(store.get(Table::Grants, &app_grant).await.unwrap(), None);
    assert!(store.get(Table::Grants, &other_grant).await.unwrap().is_some());
    assert_eq!(store.get(Table::Clients, "app").await.unwrap(), None);
    assert_eq!(left(&store, &user_id).await.consents, 0);
    let listed = serde_json::to_string(&admin::list_clients(&store).await.unwrap()).unwrap();
    assert!(listed.contains("other") && !listed.contains("c2VjcmV0"), "{listed}");
}

#[tokio::test]
async fn grants_are_listed_by_short_id_and_revoked_by_an_unambiguous_prefix() {
    let (store, _clock, _dir) = common::embedded();
    let (user_id, grant_id) = full_user(&store, "a@example.com", "app").await;
    full_user(&store, "b@example.com", "other").await;
    let all = admin::list_grants(&store, &GrantFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|g| g.id.len() == 8));
    assert!(!serde_json::to_string(&all).unwrap().contains(&grant_id));
    let mine = GrantFilter {
        user_id: Some(user_id.clone()),
        ..GrantFilter::default()
    };
    assert_eq!(admin::list_grants(&store, &mine).await.unwrap().len(), 1);
    let by_client = GrantFilter {
        client_id: Some("other".into()),
        ..GrantFilter::default()
    };
    assert_eq!(
        admin::list_grants(&store, &by_client).await.unwrap()[0].client_id,
        "other"
    );

    assert!(matches!(
        admin::revoke_grant(&store, &grant_id[..3]).await,
        Err(AdminError::Refused(_))
    ));
    // Two grants under one prefix: refused, both kept.
    let twin = format!("{}{}", &grant_id[..8], "x".repeat(35));
    let mut copy = store.get(Table::Grants, &grant_id).await.unwrap().unwrap();
    copy.key = twin.clone();
    store.put(Table::Grants, copy).await.unwrap();
    assert!(matches!(
        admin::revoke_grant(&store, grants::short(&grant_id)).await,
        Err(AdminError::Refused(_))
    ));
    assert!(store.get(Table::Grants, &grant_id).await.unwrap().is_some());
    let revoked = admin::revoke_grant(&store, &grant_id[..12]).await.unwrap();
    assert_eq!(revoked.id, grants::short(&grant_id));
    assert_eq!(store.get(Table::Grants, &grant_id).await.unwrap(), None);
    assert!(store.get(Table::Grants, &twin).await.unwrap().is_some());
    assert!(matches!(
        admin::revoke_grant(&store, &grant_id[..12]).await,
        Err(AdminError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_invite_link_carries_a_token_that_the_invite_store_knows() {
    let (store, _clock, _dir) = common::embedded();
    let link = admin::create_invite(&store, "https://mcp.example.com/", Some("New@Example.com"), 3600)
        .await
        .unwrap();
    let token = link
        .strip_prefix("https://mcp.example.com/oauth/invite?token=")
        .expect("link shape");
    let invite = invites::peek(&store, token).await.unwrap().expect("live invite");
    assert_eq!(invite.email.as_deref(), Some("new@example.com"));
    assert!(matches!(
        admin::create_invite(&store, "https://mcp.example.com", Some("not an email"), 60).await,
        Err(AdminError::Refused(_))
    ));
}
