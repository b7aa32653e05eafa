//! Token-signing keys (`mcp_oauth::keys`): one key per rotation slot however many instances race
//! to create it, `kid` = RFC 7638 thumbprint, JWTs that verify with the published JWK, rotation
//! that keeps old keys published until their tokens expire, a store-read floor for unknown `kid`s,
//! and keys that survive a restart of the dev server's embedded store.
//!
//! Storage behaviour matters here, so every rule runs on both backends (`embedded::…` and
//! `dynamodb::…`), except the restart, which is about the embedded file.

mod common;
mod mcp_support;

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, decode_header, encode};
use mcp_oauth::clock::Clock;
use mcp_oauth::http::Internal;
use mcp_oauth::keys::{KeyRing, REFRESH_FLOOR, SIGNER_RECHECK, Wrapping};
use mcp_oauth::store::embedded::EmbeddedStore;
use mcp_oauth::store::{Store, Table};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Seconds per rotation slot in these tests.
const ROTATION: i64 = 1000;
/// Access-token lifetime in these tests.
const ACCESS_TTL: i64 = 300;

fn ring(s: &Store) -> KeyRing {
    KeyRing::new(s.clone(), ROTATION, ACCESS_TTL)
}

/// Moves the store's clock forward to `target` (epoch seconds).
fn advance_to(s: &Store, target: i64) {
    let now = s.clock().now();
    assert!(target >= now, "the clock only moves forward");
    s.clock().advance(target - now);
}

/// Moves the clock to 10 s into the next rotation slot and returns that slot's end, so a test
/// knows its slot boundaries exactly and real seconds ticking by cannot cross one.
fn start_of_a_fresh_slot(s: &Store) -> i64 {
    let next = (s.clock().now().div_euclid(ROTATION) + 1) * ROTATION;
    advance_to(s, next + 10);
    next + ROTATION
}

/// The published keys, as a fresh instance (a cold Lambda) reads them from the store.
async fn published(s: &Store) -> Vec<Value> {
    let jwks = ring(s).jwks().await.expect("jwks");
    jwks["keys"].as_array().expect("keys array").clone()
}

async fn published_kids(s: &Store) -> BTreeSet<String> {
    published(s)
        .await
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

fn sign(key: &jsonwebtoken::EncodingKey, kid: &str, sub: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let claims = json!({"sub": sub, "exp": jsonwebtoken::get_current_timestamp() + 600});
    encode(&header, &claims, key).expect("sign")
}

fn verify(token: &str, key: &DecodingKey) -> jsonwebtoken::errors::Result<Value> {
    decode::<Value>(token, key, &Validation::new(Algorithm::ES256)).map(|d| d.claims)
}

fn decoding_key(jwk: &Value) -> DecodingKey {
    DecodingKey::from_ec_components(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y")).expect("EC JWK")
}

async fn ten_instances_racing_for_the_signer_create_one_key(s: Store) {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let ring = ring(&s);
            tokio::spawn(async move { ring.signer().await.expect("signer").kid.clone() })
        })
        .collect();
    let mut kids = BTreeSet::new();
    for t in tasks {
        kids.insert(t.await.expect("task"));
    }
    assert_eq!(kids.len(), 1, "racing instances disagree on the signing key: {kids:?}");
    assert_eq!(
        published_kids(&s).await,
        kids,
        "the store must hold exactly the one key they agreed on"
    );
}

async fn publishing_on_a_cold_store_creates_no_key(s: Store) {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let ring = ring(&s);
            tokio::spawn(async move { ring.jwks().await.expect("jwks") })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task")["keys"], json!([]), "nothing to publish yet");
    }
    let kid = ring(&s).signer().await.expect("signer").kid.clone();
    assert_eq!(
        published_kids(&s).await,
        BTreeSet::from([kid]),
        "the signer's key is published once it exists"
    );
}

async fn kid_is_the_rfc7638_thumbprint_of_the_published_key(s: Store) {
    let kid = ring(&s).signer().await.expect("signer").kid.clone();
    let keys = published(&s).await;
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("signer's key is published");
    let (x, y) = (jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y"));
    // RFC 7638 §3: the required members, in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    assert_eq!(kid, URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())));
    // x and y are the coordinates of a point on P-256.
    let mut sec1 = vec![0x04];
    sec1.extend(URL_SAFE_NO_PAD.decode(x).expect("x is base64url"));
    sec1.extend(URL_SAFE_NO_PAD.decode(y).expect("y is base64url"));
    assert_eq!(sec1.len(), 65, "P-256 coordinates are 32 bytes each");
    assert!(p256::PublicKey::from_sec1_bytes(&sec1).is_ok(), "not a P-256 point");
}

async fn token_signed_by_the_signer_verifies_with_the_published_jwk(s: Store) {
    let signer = ring(&s).signer().await.expect("signer");
    let token = sign(&signer.key, &signer.kid, "user-1");
    assert_eq!(
        decode_header(&token).expect("header").kid.as_deref(),
        Some(signer.kid.as_str())
    );

    let keys = published(&s).await;
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == signer.kid.as_str())
        .expect("published");
    assert_eq!(verify(&token, &decoding_key(jwk)).expect("verifies")["sub"], "user-1");

    // The verifier's path: a cold instance looks the key up by kid.
    let cold = ring(&s)
        .verifying_key(&signer.kid)
        .await
        .expect("store")
        .expect("known kid");
    assert_eq!(verify(&token, &cold).expect("verifies")["sub"], "user-1");

    // Negative control: the same key rejects a token whose payload was altered.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","exp":99999999999}"#);
    assert!(
        verify(&parts.join("."), &decoding_key(jwk)).is_err(),
        "an altered token must not verify"
    );
}

async fn rotation_signs_with_a_new_key_and_publishes_the_old_until_its_tokens_expire(s: Store) {
    let slot_end = start_of_a_fresh_slot(&s);
    let ring = ring(&s);
    let old = ring.signer().await.expect("signer");
    let old_token = sign(&old.key, &old.kid, "before-rotation");

    advance_to(&s, slot_end + 5);
    let new = ring.signer().await.expect("signer after rotation");
    assert_ne!(new.kid, old.kid, "past KEY_ROTATION_AGE a new key must sign");
    assert_eq!(
        self::ring(&s).signer().await.expect("signer").kid,
        new.kid,
        "other instances agree"
    );
    assert_eq!(
        published_kids(&s).await,
        BTreeSet::from([old.kid.clone(), new.kid.clone()])
    );
    let keys = published(&s).await;
    let old_jwk = keys
        .iter()
        .find(|k| k["kid"] == old.kid.as_str())
        .expect("old key still published");
    assert!(
        verify(&old_token, &decoding_key(old_jwk)).is_ok(),
        "tokens from before the rotation still verify"
    );

    // The old key may have signed in its slot's last second a token that lives ACCESS_TTL, and
    // verifiers get 60 s of leeway: it stays published until then.
    advance_to(&s, slot_end + ACCESS_TTL + 55);
    assert!(published_kids(&s).await.contains(&old.kid), "retired too early");
    advance_to(&s, slot_end + ACCESS_TTL + 65);
    assert_eq!(
        published_kids(&s).await,
        BTreeSet::from([new.kid.clone()]),
        "the old key must leave the JWKS"
    );
}

async fn unknown_kid_reads_the_store_at_most_once_per_refresh_floor(s: Store) {
    let verifier = ring(&s);
    let before = s.calls();
    assert!(verifier.verifying_key("forged-kid").await.expect("store").is_none());
    assert_eq!(s.calls(), before + 1, "the first unknown kid reads the store once");
    for i in 0..5 {
        assert!(
            verifier
                .verifying_key(&format!("forged-{i}"))
                .await
                .expect("store")
                .is_none()
        );
    }
    assert_eq!(
        s.calls(),
        before + 1,
        "more unknown kids within the floor must not reach the store"
    );

    // Another instance creates a key meanwhile; the verifier finds it once the floor has passed.
    let signer = ring(&s).signer().await.expect("signer");
    let token = sign(&signer.key, &signer.kid, "user-2");
    let before = s.calls();
    let _ = verifier.verifying_key(&signer.kid).await.expect("store");
    assert_eq!(s.calls(), before, "still within the floor: no store read");
    s.clock().advance(REFRESH_FLOOR);
    let key = verifier
        .verifying_key(&signer.kid)
        .await
        .expect("store")
        .expect("found after the floor");
    assert_eq!(s.calls(), before + 1);
    assert!(verify(&token, &key).is_ok());
    // Known now: cached, no further reads.
    assert!(verifier.verifying_key(&signer.kid).await.expect("store").is_some());
    assert_eq!(s.calls(), before + 1, "a known kid is served from the cache");
}

async fn operator_rotation_signs_with_a_new_key_everywhere_and_keeps_the_old_published(s: Store) {
    let slot_end = start_of_a_fresh_slot(&s);
    let warm = ring(&s);
    let old = warm.signer().await.expect("signer");
    let old_token = sign(&old.key, &old.kid, "before-rotation");

    let rotated = ring(&s).rotate().await.expect("rotate");
    assert_eq!(rotated.previous_kid.as_deref(), Some(old.kid.as_str()));
    assert_ne!(rotated.kid, old.kid);
    assert_eq!(
        ring(&s).signer().await.expect("signer").kid,
        rotated.kid,
        "a cold instance signs with it"
    );
    s.clock().advance(SIGNER_RECHECK);
    assert_eq!(
        warm.signer().await.expect("signer").kid,
        rotated.kid,
        "a warm instance switches within SIGNER_RECHECK"
    );
    assert_eq!(
        published_kids(&s).await,
        BTreeSet::from([old.kid.clone(), rotated.kid.clone()])
    );
    let keys = published(&s).await;
    let old_jwk = keys
        .iter()
        .find(|k| k["kid"] == old.kid.as_str())
        .expect("old key published");
    assert!(verify(&old_token, &decoding_key(old_jwk)).is_ok());
    let listed = ring(&s).list().await.expect("list");
    let active: Vec<&str> = listed.iter().filter(|k| k.active).map(|k| k.kid.as_str()).collect();
    assert_eq!(active, [rotated.kid.as_str()], "exactly the new key is active");

    // The replaced key retires exactly when its slot key would have.
    advance_to(&s, slot_end + ACCESS_TTL + 55);
    assert!(published_kids(&s).await.contains(&old.kid), "retired too early");
    advance_to(&s, slot_end + ACCESS_TTL + 65);
    assert!(
        !published_kids(&s).await.contains(&old.kid),
        "the old key must leave the JWKS"
    );
}

async fn a_warm_signer_reads_the_store_at_most_once_per_signer_recheck(s: Store) {
    start_of_a_fresh_slot(&s);
    let warm = ring(&s);
    let kid = warm.signer().await.expect("signer").kid.clone();
    let before = s.calls();
    for _ in 0..5 {
        warm.signer().await.expect("signer");
    }
    assert_eq!(s.calls(), before, "cached within SIGNER_RECHECK");
    s.clock().advance(SIGNER_RECHECK);
    assert_eq!(warm.signer().await.expect("signer").kid, kid);
    warm.signer().await.expect("signer");
    assert_eq!(s.calls(), before + 1, "one read to recheck, then cached again");
}

async fn rotation_on_a_slot_without_a_key_creates_the_active_key(s: Store) {
    start_of_a_fresh_slot(&s);
    let rotated = ring(&s).rotate().await.expect("rotate");
    assert_eq!(rotated.previous_kid, None);
    assert_eq!(ring(&s).signer().await.expect("signer").kid, rotated.kid);
}

/// At /mcp: after a rotation the token endpoint's tokens carry the new `kid`, and a token signed
/// by the old key is still accepted while the old key is published.
#[tokio::test]
async fn after_rotation_new_tokens_carry_the_new_kid_and_old_tokens_still_work_at_mcp() {
    use mcp_support::{LEGACY, post, rpc, token_for};
    let (store, _clock, _dir) = common::embedded();
    let h = common::oauth::Harness::new(store.clone());
    let kid_of = |jwt: &str| decode_header(jwt).expect("JWT header").kid.expect("kid");
    let old_token = token_for(&h, "before@example.com", "mcp:tools:read").await;

    // The operator's tool: another instance with the deployment's settings.
    let lifetimes = &h.state.config.lifetimes;
    let operator = KeyRing::new(store.clone(), lifetimes.key_rotation, lifetimes.access_token);
    let rotated = operator.rotate().await.expect("rotate");
    assert_eq!(rotated.previous_kid.as_deref(), Some(kid_of(&old_token).as_str()));
    store.clock().advance(SIGNER_RECHECK);
    let new_token = token_for(&h, "after@example.com", "mcp:tools:read").await;
    assert_eq!(kid_of(&new_token), rotated.kid);

    for token in [&old_token, &new_token] {
        let req = post(
            Some(token),
            &rpc(1, "tools/list", json!({})),
            &[("mcp-protocol-version", LEGACY)],
        );
        let reply = common::send(&h.router, req).await;
        assert_eq!(reply.status, http::StatusCode::OK, "{}", reply.text());
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (store, _clock, _dir) = super::common::embedded();
                    super::$name(store).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (store, _clock, ()) = super::common::dynamo().await;
                    super::$name(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    ten_instances_racing_for_the_signer_create_one_key,
    publishing_on_a_cold_store_creates_no_key,
    kid_is_the_rfc7638_thumbprint_of_the_published_key,
    token_signed_by_the_signer_verifies_with_the_published_jwk,
    rotation_signs_with_a_new_key_and_publishes_the_old_until_its_tokens_expire,
    unknown_kid_reads_the_store_at_most_once_per_refresh_floor,
    operator_rotation_signs_with_a_new_key_everywhere_and_keeps_the_old_published,
    rotation_on_a_slot_without_a_key_creates_the_active_key,
    a_warm_signer_reads_the_store_at_most_once_per_signer_recheck,
);

/// The dev server keeps its keys (and so the tokens it issued stay valid) across a restart.
#[tokio::test]
async fn signing_key_survives_a_restart_of_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("devserver.redb");
    let kid = {
        let store = Store::new(EmbeddedStore::open(&path, Clock::system()).expect("open"));
        ring(&store).signer().await.expect("signer").kid.clone()
    };
    // Everything that held the file is dropped; redb would refuse a second open otherwise.
    let store = Store::new(EmbeddedStore::open(&path, Clock::system()).expect("reopen"));
    assert_eq!(published_kids(&store).await, BTreeSet::from([kid.clone()]));
    assert_eq!(
        ring(&store).signer().await.expect("signer").kid,
        kid,
        "no new key after a restart"
    );
}

// ---- Keys wrapped under KMS (envelope encryption), against the emulator ----

fn wrapped_ring(s: &Store, kms: &mcp_oauth::kms::Kms) -> KeyRing {
    ring(s).with_wrapping(Wrapping::Kms(kms.clone()))
}

/// The stored record of `kid`, as JSON.
async fn stored_record(s: &Store, kid: &str) -> Value {
    let items = s.query_by_owner(Table::Keys, "signing").await.expect("query keys");
    items
        .iter()
        .map(|i| mcp_oauth::store::typed::body::<Value>(i).expect("record"))
        .find(|r| r["kid"] == kid)
        .expect("the key is stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrapped_key_is_stored_only_as_kms_ciphertext_and_signs_on_a_cold_instance() {
    let (s, _clock, ()) = common::dynamo().await;
    let kms = common::kms_key().await;
    let first = wrapped_ring(&s, &kms).signer().await.expect("signer");
    let record = stored_record(&s, &first.kid).await;
    assert!(record.get("private_pem").is_none(), "no PEM at rest: {record}");
    assert!(record["wrapped"]["key"].is_string() && record["wrapped"]["seal"].is_string());

    // A cold instance unwraps the same key and its tokens verify with the published JWK.
    let cold = wrapped_ring(&s, &kms).signer().await.expect("cold signer");
    assert_eq!(cold.kid, first.kid);
    let token = sign(&cold.key, &cold.kid, "user-1");
    let keys = published(&s).await;
    verify(&token, &decoding_key(&keys[0])).expect("verifies with the published key");

    // Publishing needs no KMS at all; the request-state secret needs the KMS key.
    assert_eq!(published_kids(&s).await, BTreeSet::from([first.kid.clone()]));
    let a = wrapped_ring(&s, &kms).derived_secret(&first.kid).await.expect("secret");
    let b = wrapped_ring(&s, &kms).derived_secret(&first.kid).await.expect("secret");
    assert!(a.is_some() && a == b, "every instance derives the same secret");
    assert!(
        ring(&s).derived_secret(&first.kid).await.is_err(),
        "without the KMS key a wrapped secret is unavailable, not made up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrapped_key_rotated_out_keeps_its_public_half_and_seal_but_not_its_private_half() {
    let (s, _clock, ()) = common::dynamo().await;
    let kms = common::kms_key().await;
    let old = wrapped_ring(&s, &kms).signer().await.expect("signer");
    let before = wrapped_ring(&s, &kms).derived_secret(&old.kid).await.expect("secret");
    let rotated = wrapped_ring(&s, &kms).rotate().await.expect("rotate");
    assert_eq!(rotated.previous_kid.as_deref(), Some(old.kid.as_str()));
    let kept = stored_record(&s, &old.kid).await;
    assert!(
        kept["wrapped"].get("key").is_none(),
        "a retired key cannot sign again: {kept}"
    );
    assert_eq!(
        published_kids(&s).await,
        BTreeSet::from([old.kid.clone(), rotated.kid.clone()])
    );
    let after = wrapped_ring(&s, &kms).derived_secret(&old.kid).await.expect("secret");
    assert_eq!(before, after, "requestState sealed before the rotation still opens");
    assert_eq!(wrapped_ring(&s, &kms).signer().await.expect("signer").kid, rotated.kid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kms_unreachable_at_cold_start_is_unavailable_and_signs_nothing() {
    let (s, _clock, ()) = common::dynamo().await;
    let kms = common::kms_key().await;
    let kid = wrapped_ring(&s, &kms).signer().await.expect("signer").kid.clone();
    let down = common::unreachable_kms("any").await;
    match wrapped_ring(&s, &down).signer().await {
        Err(Internal::Kms(cause)) => assert!(cause.contains("Decrypt"), "{cause}"),
        Err(e) => panic!("expected unavailable, got {e}"),
        Ok(_) => panic!("signed without unwrapping the key"),
    }
    assert!(matches!(
        wrapped_ring(&s, &down).derived_secret(&kid).await,
        Err(Internal::Kms(_))
    ));
    // A new slot's key cannot be created either, and nothing half-made is stored.
    let fresh = common::dynamo().await.0;
    assert!(matches!(
        wrapped_ring(&fresh, &down).signer().await,
        Err(Internal::Kms(_))
    ));
    assert_eq!(published(&fresh).await, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_request_while_kms_is_unreachable_is_503_with_retry_after() {
    use common::oauth::Harness;
    let (s, _clock, ()) = common::dynamo().await;
    let kms = common::kms_key().await;
    let mut up = common::state(s.clone());
    up.keys = up.keys.with_wrapping(Wrapping::Kms(kms));
    let h = Harness::with_state(up);
    let client = h.confidential_client().await;
    let mut browser = h.browser();
    let params = h
        .sign_up_and_approve(&mut browser, &client, "kms-down@example.com", &[])
        .await;
    // The slot's key exists (the sign-in flow needs none; a first token request creates it).
    h.state.keys.signer().await.expect("signer");

    // A cold token function whose KMS refuses connections.
    let mut down = common::state(s.clone());
    down.keys = down
        .keys
        .with_wrapping(Wrapping::Kms(common::unreachable_kms("any").await));
    let cold = Harness::with_state(down);
    let reply = cold.redeem(&client, &params["code"]).await;
    assert_eq!(reply.status, http::StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
    assert!(reply.header("retry-after").is_some(), "503 says when to retry");
    assert_eq!(reply.json()["error"], "temporarily_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_warm_signer_that_cannot_unwrap_the_rotated_in_key_signs_nothing_rather_than_the_old_key() {
    let (s, _clock, ()) = common::dynamo().await;
    let end = start_of_a_fresh_slot(&s);
    // A warm instance signing with a key it could read without KMS (a PEM record from before).
    let warm = wrapped_ring(&s, &common::unreachable_kms("any").await);
    let old = ring(&s).signer().await.expect("plain key");
    assert_eq!(warm.signer().await.expect("warm signer").kid, old.kid);
    // An operator rotates in a wrapped key; the warm instance's KMS is down when it rechecks.
    let kms = common::kms_key().await;
    wrapped_ring(&s, &kms).rotate().await.expect("rotate");
    advance_to(&s, (s.clock().now() + SIGNER_RECHECK).min(end - 1));
    assert!(
        matches!(warm.signer().await, Err(Internal::Kms(_))),
        "the replaced key must not keep signing"
    );
}
