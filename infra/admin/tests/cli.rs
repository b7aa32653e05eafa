//! The admin command line, run as a built binary against a store prepared with the library:
//! every command on both backends (embedded file and DynamoDB on the emulator, the latter through
//! `--stack`), `--json`, the exit codes, and that no secret appears in any output.
//!
//! DynamoDB runs need the emulator's URL in `DYNAMODB_TEST_ENDPOINT` (the test command starts
//! moto and sets it).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use mcp_oauth::accounts::{sessions, users};
use mcp_oauth::clients::{AuthMethod, Client};
use mcp_oauth::clock::Clock;
use mcp_oauth::config::Config;
use mcp_oauth::store::dynamo::DynamoStore;
use mcp_oauth::store::embedded::EmbeddedStore;
use mcp_oauth::store::{Store, Table};
use mcp_oauth::tokens::grants::{self, NewGrant};
use serde_json::Value;
use tables::create_tables;

const PASSWORD: &str = "correct horse battery staple";
const PUBLIC_URL: &str = "https://mcp.example.com";
const SECRET_HASH: &str = "c2VjcmV0LWhhc2gtb2YtdGhlLWNsaWVudC1zZWNyZXQ";

enum Backend {
    Embedded { _dir: tempfile::TempDir, path: PathBuf },
    Dynamo { endpoint: String, stack: String },
}

/// A prepared store, how to reach it, and the secrets it holds that no output may show.
struct Fixture {
    backend: Backend,
    user_id: String,
    email: String,
    other_user: String,
    /// The grants of `user_id` (two, client `app`) and of `other_user` (one, client `other`).
    grants: Vec<String>,
    secrets: Vec<String>,
    seen: Mutex<String>,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

async fn prepare(store: &Store) -> (String, String, String, Vec<String>, Vec<String>) {
    let lifetimes = Config::from_lookup(|_| None).unwrap().lifetimes;
    let email = "ada@example.com".to_owned();
    let user = users::sign_up(store, &email, PASSWORD).await.unwrap();
    let other = users::sign_up(store, "bob@example.com", PASSWORD).await.unwrap();
    sessions::create(store, &user.id, 3600).await.unwrap();
    let mut secrets = Vec::new();
    for id in ["app", "other"] {
        let client = Client {
            client_id: id.to_owned(),
            client_name: Some(format!("The {id} app")),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            auth_method: AuthMethod::ClientSecretBasic,
            secret_hash: Some(format!("{SECRET_HASH}{id}")),
            created_at: store.clock().now(),
            metadata: Default::default(),
        };
        mcp_oauth::clients::create(store, &client).await.unwrap();
        secrets.push(format!("{SECRET_HASH}{id}"));
    }
    let mut grant_ids = Vec::new();
    for (owner, client) in [(&user.id, "app"), (&user.id, "app"), (&other.id, "other")] {
        let id = mcp_oauth::crypto::random_token();
        let new = NewGrant {
            user_id: owner.clone(),
            client_id: client.into(),
            scope: vec!["mcp:tools:read".into()],
            resource: format!("{PUBLIC_URL}/mcp"),
        };
        let (_, refresh) = grants::create(store, &id, new, &lifetimes).await.unwrap().unwrap();
        secrets.push(refresh);
        secrets.push(id.clone());
        // The admin tool names grants by their reference (the id itself is stored nowhere).
        grant_ids.push(grants::reference(&id));
    }
    for e in [&email, "bob@example.com"] {
        let item = store.get(Table::Users, &users::email_key(e)).await.unwrap().unwrap();
        secrets.push(item.body["password_hash"].as_str().unwrap().to_owned());
    }
    (email, user.id, other.id, grant_ids, secrets)
}

fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("cli{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

impl Fixture {
    async fn embedded() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let store = Store::new(EmbeddedStore::open(&path, Clock::system()).unwrap());
        let (email, user_id, other_user, grants, secrets) = prepare(&store).await;
        // The file is locked while open: close it before the tool opens it.
        drop(store);
        Fixture {
            backend: Backend::Embedded { _dir: dir, path },
            user_id,
            email,
            other_user,
            grants,
            secrets,
            seen: Mutex::default(),
        }
    }

    async fn dynamo() -> Fixture {
        let endpoint = std::env::var("DYNAMODB_TEST_ENDPOINT").expect(
            "DYNAMODB_TEST_ENDPOINT is unset: run the tests with infra/scripts/test.sh, which starts a DynamoDB emulator",
        );
        let stack = unique();
        let prefix = format!("{stack}-");
        let backend = DynamoStore::connect(Some(&endpoint), &prefix, Clock::system()).await;
        create_tables(backend.client(), &prefix).await.unwrap();
        // The wrapping key `--stack` names by its alias, as template.yaml creates it.
        let kms = mcp_oauth::kms::Kms::connect("unused", Some(&endpoint)).await;
        let key = kms.client().create_key().send().await.unwrap();
        let key_id = key.key_metadata().unwrap().key_id().to_owned();
        kms.client()
            .create_alias()
            .alias_name(format!("alias/{stack}-signing-keys"))
            .target_key_id(key_id)
            .send()
            .await
            .unwrap();
        let (email, user_id, other_user, grants, secrets) = prepare(&Store::new(backend)).await;
        Fixture {
            backend: Backend::Dynamo { endpoint, stack },
            user_id,
            email,
            other_user,
            grants,
            secrets,
            seen: Mutex::default(),
        }
    }

    /// The store again, to read what the tool left.
    async fn store(&self) -> Store {
        match &self.backend {
            Backend::Embedded { path, .. } => Store::new(EmbeddedStore::open(path, Clock::system()).unwrap()),
            Backend::Dynamo { endpoint, stack } => {
                Store::new(DynamoStore::connect(Some(endpoint), &format!("{stack}-"), Clock::system()).await)
            }
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_admin"));
        cmd.env_clear().env("PUBLIC_URL", PUBLIC_URL).env("RUST_LOG", "info");
        match &self.backend {
            Backend::Embedded { path, .. } => {
                cmd.env("STORE", "embedded").env("STORE_PATH", path);
            }
            Backend::Dynamo { endpoint, stack } => {
                cmd.env("DYNAMODB_ENDPOINT", endpoint)
                    .env("KMS_ENDPOINT", endpoint)
                    .env("AWS_ACCESS_KEY_ID", "test")
                    .env("AWS_SECRET_ACCESS_KEY", "test")
                    .env("AWS_REGION", "us-east-1")
                    .args(["--stack", stack]);
            }
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = self.command().args(args).output().expect("run the admin binary");
        let out = Out {
            code: out.status.code().expect("exit code"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let mut seen = self.seen.lock().unwrap();
        seen.push_str(&out.stdout);
        seen.push_str(&out.stderr);
        out
    }

    fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_eq!(out.code, 0, "admin {args:?}: {}{}", out.stdout, out.stderr);
        out
    }
}

async fn every_command_works_and_prints_no_secret(fx: Fixture) {
    let short: Vec<&str> = fx.grants.iter().map(|g| grants::short(g)).collect();

    // users
    let listed = fx.ok(&["users", "list"]);
    assert!(
        listed.stdout.starts_with("ID"),
        "a table with a header: {}",
        listed.stdout
    );
    assert!(listed.stdout.contains(&fx.email) && listed.stdout.contains("bob@example.com"));
    let listed = fx.ok(&["--json", "users", "list"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let shown = fx.ok(&["users", "show", &fx.email]);
    assert!(shown.stdout.contains(&fx.user_id) && shown.stdout.contains(short[0]));
    let shown = fx.ok(&["users", "show", &fx.user_id, "--json"]).json();
    assert_eq!(shown["user"]["email"], fx.email.as_str());
    assert_eq!(shown["grants"].as_array().unwrap().len(), 2);
    assert_eq!(shown["has_email_login"], true);

    // grants
    let all = fx.ok(&["grants", "list"]);
    assert!(short.iter().all(|s| all.stdout.contains(s)), "{}", all.stdout);
    let mine = fx.ok(&["--json", "grants", "list", "--user", &fx.user_id]).json();
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|g| g["id"].as_str().unwrap().len() == 8)
    );
    let theirs = fx.ok(&["--json", "grants", "list", "--client", "other"]).json();
    assert_eq!(theirs[0]["user_id"], fx.other_user.as_str());
    let revoked = fx.ok(&["grants", "revoke", short[1]]);
    assert!(
        revoked.stdout.contains(short[1]),
        "{short:?}: {}{}",
        revoked.stdout,
        revoked.stderr
    );
    assert_eq!(fx.run(&["grants", "revoke", short[1]]).code, 1, "already revoked");
    assert_eq!(fx.run(&["grants", "revoke", "ab"]).code, 1, "too short a prefix");

    // clients
    let clients = fx.ok(&["clients", "list"]);
    assert!(clients.stdout.contains("The app app") && clients.stdout.contains("client_secret_basic"));
    let app = fx.ok(&["--json", "clients", "show", "app"]).json();
    assert_eq!(app["client"]["client_id"], "app");
    assert_eq!(
        app["grants"].as_array().unwrap().len(),
        1,
        "one of its two grants was revoked"
    );
    assert_eq!(fx.run(&["clients", "show", "nope"]).code, 1);

    // keys
    assert!(fx.ok(&["keys", "list"]).stdout.contains("(none)"));
    let first = fx.ok(&["--json", "keys", "rotate"]).json();
    assert_eq!(first["previous_kid"], Value::Null);
    let second = fx.ok(&["--json", "keys", "rotate"]).json();
    assert_eq!(second["previous_kid"], first["kid"]);
    let keys = fx.ok(&["--json", "keys", "list"]).json();
    let active: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["active"] == true)
        .collect();
    assert_eq!(keys.as_array().unwrap().len(), 2, "the old key stays published");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["kid"], second["kid"]);
    assert!(fx.ok(&["keys", "list"]).stdout.contains("ACTIVE"));

    // invites
    let link = fx.ok(&["invites", "create", "--email", "new@example.com", "--ttl", "1d"]);
    assert!(
        link.stdout.starts_with(&format!("{PUBLIC_URL}/oauth/invite?token=")),
        "{}",
        link.stdout
    );
    let link = fx.ok(&["--json", "invites", "create"]).json();
    assert!(link["link"].as_str().unwrap().contains("/oauth/invite?token="));
    assert_eq!(fx.run(&["invites", "create", "--ttl", "soon"]).code, 2);
    assert_eq!(fx.run(&["invites", "create", "--email", "not an address"]).code, 1);

    // disable, enable
    let disabled = fx.ok(&["users", "disable", &fx.user_id]);
    assert!(disabled.stdout.contains("revoked 1 grants"), "{}", disabled.stdout);
    assert!(
        disabled.stderr.contains("admin_user_disabled"),
        "logged: {}",
        disabled.stderr
    );
    assert_eq!(
        fx.ok(&["--json", "users", "show", &fx.user_id]).json()["user"]["disabled"],
        true
    );
    fx.ok(&["users", "enable", &fx.user_id]);
    assert_eq!(
        fx.ok(&["--json", "users", "show", &fx.user_id]).json()["user"]["disabled"],
        false
    );
    assert_eq!(fx.run(&["users", "disable", "nobody"]).code, 1);

    // delete: refused without --yes, saying what would go
    let refused = fx.run(&["users", "delete", &fx.other_user]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stdout.contains("would delete") && refused.stdout.contains("1 grants"),
        "{}",
        refused.stdout
    );
    assert!(refused.stderr.contains("--yes"));
    fx.ok(&["users", "show", &fx.other_user]);
    let deleted = fx.ok(&["--json", "users", "delete", &fx.other_user, "--yes"]).json();
    assert_eq!(deleted["removed"]["grants"], 1);
    assert_eq!(fx.run(&["users", "show", &fx.other_user]).code, 1);
    assert_eq!(fx.run(&["users", "show", "bob@example.com"]).code, 1);

    let refused = fx.run(&["clients", "delete", "app"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stdout.contains("would delete client app"));
    fx.ok(&["clients", "delete", "app", "--yes"]);
    assert_eq!(fx.run(&["clients", "show", "app"]).code, 1);
    assert_eq!(fx.ok(&["--json", "grants", "list"]).json(), Value::Array(vec![]));

    // Nothing printed, on stdout or in the logs, holds a secret.
    let store = fx.store().await;
    let mut secrets = fx.secrets.clone();
    for item in store.scan(Table::Keys).await.unwrap() {
        if matches!(fx.backend, Backend::Dynamo { .. }) {
            assert!(item.body.get("private_pem").is_none(), "a stack's key stored as PEM");
        }
        match item.body["private_pem"].as_str() {
            Some(pem) => secrets.extend(pem.lines().filter(|l| !l.starts_with("-----")).map(str::to_owned)),
            // On a stack, keys rotated here are wrapped under its KMS key, as the token function's.
            None => {
                let wrapped = &item.body["wrapped"];
                assert!(wrapped["seal"].is_string(), "neither PEM nor wrapped: {}", item.body);
                secrets.extend(
                    ["key", "seal"]
                        .iter()
                        .filter_map(|f| wrapped[f].as_str().map(str::to_owned)),
                );
            }
        }
    }
    drop(store);
    let seen = fx.seen.lock().unwrap();
    for secret in &secrets {
        assert!(!seen.contains(secret.as_str()), "a secret was printed: {secret}");
    }
}

#[tokio::test]
async fn embedded_every_command_works_and_prints_no_secret() {
    every_command_works_and_prints_no_secret(Fixture::embedded().await).await;
}

#[tokio::test]
async fn dynamodb_every_command_works_through_stack_and_prints_no_secret() {
    every_command_works_and_prints_no_secret(Fixture::dynamo().await).await;
}

#[tokio::test]
async fn unknown_commands_and_flags_are_usage_errors() {
    let fx = Fixture::embedded().await;
    for args in [&["frobnicate"][..], &["users", "list", "--nope"], &["keys", "spin"]] {
        let out = fx.run(args);
        assert_eq!(out.code, 2, "admin {args:?}");
        assert!(
            out.stderr.contains("Usage:"),
            "usage on stderr for {args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    for args in [&["users"][..], &["grants", "list", "--user"], &[]] {
        let out = fx.run(args);
        assert_eq!(out.code, 2, "admin {args:?}");
        assert!(
            out.stderr.contains("error") || out.stderr.contains("Usage:"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(fx.run(&["--help"]).code, 0);
}

#[tokio::test]
async fn an_unreachable_store_exits_3() {
    let fx = Fixture::embedded().await;
    let dir = tempfile::tempdir().unwrap();
    // A directory where the store file should be: it cannot be opened.
    let out = fx
        .command()
        .env("STORE_PATH", dir.path())
        .args(["users", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let out = fx
        .command()
        .env("STORE", "postgres")
        .args(["users", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a configuration error is a usage error");
}
