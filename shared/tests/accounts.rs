//! Accounts: password hashing and rules, email normalisation, sign-up, login and its throttle,
//! and browser sessions. Tests that touch storage run once per backend (`embedded::…` and
//! `dynamodb::…` in the test output).

mod common;

use std::net::IpAddr;

use argon2::PasswordHash;
use http::HeaderMap;
use http::header::COOKIE;
use mcp_oauth::accounts::password::{self, WeakPassword};
use mcp_oauth::accounts::sessions;
use mcp_oauth::accounts::throttle::{self, LoginCounters};
use mcp_oauth::accounts::users::{self, LoginError, SignupError};
use mcp_oauth::store::{Store, Table};

const PASSWORD: &str = "correct horse battery staple";

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Steps the clock to one second into a fresh throttle window, so a test's failures cannot
/// straddle a window boundary.
fn at_window_start(s: &Store) {
    let now = s.clock().now();
    s.clock()
        .advance(throttle::WINDOW_SECS - now.rem_euclid(throttle::WINDOW_SECS) + 1);
}

// ---- passwords (no storage) ----

fn assert_owasp_argon2id(phc: &str) {
    let parsed = PasswordHash::new(phc).expect("a PHC string");
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    assert_eq!(parsed.version, Some(19));
    assert_eq!(parsed.params.get_decimal("m"), Some(19_456));
    assert_eq!(parsed.params.get_decimal("t"), Some(2));
    assert_eq!(parsed.params.get_decimal("p"), Some(1));
    assert!(parsed.salt.is_some() && parsed.hash.is_some());
}

#[tokio::test]
async fn password_hash_is_argon2id_with_owasp_parameters_and_verifies_only_the_right_password() {
    let phc = password::hash(PASSWORD).await.unwrap();
    assert_owasp_argon2id(&phc);
    assert!(!phc.contains(PASSWORD));
    assert!(password::verify(PASSWORD, &phc).await.unwrap());
    assert!(!password::verify("correct horse battery stapler", &phc).await.unwrap());
}

#[tokio::test]
async fn same_password_hashes_differently_each_time() {
    // A fresh random salt per hash, so equal passwords are not visible as equal hashes.
    let (a, b) = tokio::join!(password::hash(PASSWORD), password::hash(PASSWORD));
    assert_ne!(a.unwrap(), b.unwrap());
}

#[test]
fn dummy_hash_has_the_parameters_of_real_hashes() {
    assert_owasp_argon2id(password::DUMMY_HASH);
}

#[tokio::test]
async fn malformed_hash_verifies_nothing() {
    assert!(!password::verify(PASSWORD, "").await.unwrap());
    assert!(!password::verify(PASSWORD, "$argon2id$v=19$garbage").await.unwrap());
    assert!(!password::verify(PASSWORD, PASSWORD).await.unwrap());
}

#[test]
fn password_shorter_than_12_characters_is_rejected() {
    assert_eq!(
        password::check_rules("elevenchars", "a@b.co"),
        Err(WeakPassword::TooShort)
    );
    assert_eq!(password::check_rules("", "a@b.co"), Err(WeakPassword::TooShort));
}

#[test]
fn password_longer_than_128_characters_is_rejected() {
    let long: String = "abcdefgh".repeat(16) + "x";
    assert_eq!(long.chars().count(), 129);
    assert_eq!(password::check_rules(&long, "a@b.co"), Err(WeakPassword::TooLong));
    assert_eq!(password::check_rules(&long[..128], "a@b.co"), Ok(()));
}

#[test]
fn password_equal_to_the_email_is_rejected_in_any_case() {
    let email = "alice.liddell@example.com";
    assert_eq!(password::check_rules(email, email), Err(WeakPassword::SameAsEmail));
    assert_eq!(
        password::check_rules("Alice.Liddell@Example.com", email),
        Err(WeakPassword::SameAsEmail)
    );
}

#[test]
fn password_of_one_repeated_character_is_rejected() {
    assert_eq!(
        password::check_rules(&"a".repeat(20), "a@b.co"),
        Err(WeakPassword::Repetitive)
    );
    assert_eq!(
        password::check_rules(&"🔑".repeat(12), "a@b.co"),
        Err(WeakPassword::Repetitive)
    );
}

#[test]
fn password_of_12_or_more_characters_is_accepted_without_composition_rules() {
    assert_eq!(password::check_rules("abcdefghijkl", "a@b.co"), Ok(()));
    assert_eq!(password::check_rules("all lower case words", "a@b.co"), Ok(()));
    assert_eq!(password::check_rules(PASSWORD, "a@b.co"), Ok(()));
}

#[test]
fn password_length_counts_characters_not_bytes() {
    // 11 characters but 33 bytes: still too short.
    let eleven = "日本語のパスワードです";
    assert_eq!(eleven.chars().count(), 11);
    assert_eq!(password::check_rules(eleven, "a@b.co"), Err(WeakPassword::TooShort));
    // 12 characters (36 bytes): long enough.
    assert_eq!(password::check_rules("日本語のパスワードですよ", "a@b.co"), Ok(()));
    // 128 four-byte characters (512 bytes): not too long.
    let emoji: String = "🔑🚪".repeat(64);
    assert_eq!(password::check_rules(&emoji, "a@b.co"), Ok(()));
}

#[test]
fn weak_password_reasons_have_user_facing_messages_and_rules_are_listed() {
    for w in [
        WeakPassword::TooShort,
        WeakPassword::TooLong,
        WeakPassword::SameAsEmail,
        WeakPassword::Repetitive,
    ] {
        assert!(w.to_string().ends_with('.'), "{w:?}");
    }
    assert!(password::RULES.iter().any(|r| r.contains("12")));
}

// ---- emails (no storage) ----

#[test]
fn emails_are_trimmed_and_lowercased() {
    assert_eq!(
        users::normalize_email("  Alice@Example.COM ").unwrap(),
        "alice@example.com"
    );
    assert_eq!(
        users::normalize_email("\tBOB+tag@Sub.Example.org\n").unwrap(),
        "bob+tag@sub.example.org"
    );
    assert_eq!(users::normalize_email("ÉLISE@exemple.fr").unwrap(), "élise@exemple.fr");
}

#[test]
fn implausible_emails_are_rejected() {
    let too_long = format!("{}@example.com", "a".repeat(250));
    for bad in [
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "alice@@example.com",
        "a@b@example.com",
        "alice smith@example.com",
        "alice@exa mple.com",
        "alice\u{0}@example.com",
        "alice@.example.com",
        "alice@example.com.",
        "alice@example..com",
        too_long.as_str(),
    ] {
        assert!(users::normalize_email(bad).is_err(), "{bad:?} was accepted");
    }
}

// ---- sessions: cookies (no storage) ----

fn cookie_headers(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(COOKIE, v.parse().unwrap());
    }
    h
}

#[test]
fn cookie_value_picks_our_cookie_among_several() {
    let token = mcp_oauth::crypto::random_token();
    let h = cookie_headers(&[&format!("theme=dark; __Host-session={token}; session=other")]);
    assert_eq!(sessions::cookie_value(&h), Some(token.clone()));
    // Across several Cookie headers (HTTP/2 and API Gateway may split them).
    let h = cookie_headers(&["theme=dark", &format!("__Host-session={token}")]);
    assert_eq!(sessions::cookie_value(&h), Some(token));
}

#[test]
fn malformed_or_missing_session_cookie_is_ignored() {
    assert_eq!(sessions::cookie_value(&HeaderMap::new()), None);
    for bad in [
        "__Host-session=",
        "__Host-session=short",
        "__Host-session=!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "__host-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "__Host-session",
    ] {
        assert_eq!(sessions::cookie_value(&cookie_headers(&[bad])), None, "{bad:?}");
    }
    let good = mcp_oauth::crypto::random_token();
    let h = cookie_headers(&[&format!("__Host-session=bad; __Host-session={good}")]);
    assert_eq!(sessions::cookie_value(&h), Some(good));
}

#[test]
fn set_cookie_is_secure_httponly_lax_for_the_whole_site_without_domain() {
    let c = sessions::set_cookie("VALUE", 3600);
    let attrs: Vec<&str> = c.split("; ").collect();
    assert_eq!(attrs[0], "__Host-session=VALUE");
    for needed in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=3600"] {
        assert!(attrs.contains(&needed), "{needed} missing from {c}");
    }
    assert!(!c.to_lowercase().contains("domain"), "{c}");
}

#[test]
fn clear_cookie_expires_the_session_cookie_at_once() {
    let c = sessions::clear_cookie();
    assert!(c.starts_with("__Host-session=;"), "{c}");
    for needed in ["Path=/", "Secure", "HttpOnly", "Max-Age=0"] {
        assert!(c.split("; ").any(|a| a == needed), "{needed} missing from {c}");
    }
    assert!(!c.to_lowercase().contains("domain"), "{c}");
}

// ---- storage: run on both backends ----

async fn signing_up_twice_with_one_email_is_email_taken(s: Store) {
    let user = users::sign_up(&s, "alice@example.com", PASSWORD).await.unwrap();
    assert_eq!(user.email, "alice@example.com");
    assert_eq!(users::get(&s, &user.id).await.unwrap(), Some(user));
    let again = users::sign_up(&s, "  ALICE@example.com", "another good passphrase").await;
    assert!(matches!(again, Err(SignupError::EmailTaken)), "{again:?}");
}

async fn ten_concurrent_sign_ups_of_one_email_make_one_account(s: Store) {
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { users::sign_up(&s, "race@example.com", &format!("{PASSWORD} {i}")).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(user) => winners.push(user),
            Err(SignupError::EmailTaken) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    // The email leads to the winner, whose password (and nobody else's) logs in.
    let winner = &winners[0];
    let email_item = s
        .get(Table::Users, &users::email_key("race@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(email_item.body["user_id"], winner.id.as_str());
    assert_eq!(users::get(&s, &winner.id).await.unwrap().as_ref(), Some(winner));
}

async fn sign_up_rejects_invalid_email_and_weak_password(s: Store) {
    let bad = users::sign_up(&s, "not-an-email", PASSWORD).await;
    assert!(matches!(bad, Err(SignupError::InvalidEmail)), "{bad:?}");
    let weak = users::sign_up(&s, "bob@example.com", "short").await;
    assert!(
        matches!(weak, Err(SignupError::WeakPassword(WeakPassword::TooShort))),
        "{weak:?}"
    );
    let same = users::sign_up(&s, "bob@example.com", "Bob@Example.com").await;
    assert!(
        matches!(same, Err(SignupError::WeakPassword(WeakPassword::SameAsEmail))),
        "{same:?}"
    );
    assert_eq!(
        s.get(Table::Users, &users::email_key("bob@example.com")).await.unwrap(),
        None
    );
}

async fn stored_user_records_hold_no_plaintext_password(s: Store) {
    let user = users::sign_up(&s, "carol@example.com", PASSWORD).await.unwrap();
    let email_item = s
        .get(Table::Users, &users::email_key("carol@example.com"))
        .await
        .unwrap()
        .unwrap();
    let user_item = s.get(Table::Users, &users::user_key(&user.id)).await.unwrap().unwrap();
    for item in [&email_item, &user_item] {
        let text = item.body.to_string();
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains("horse"), "{text}");
    }
    // What the email record does hold is an argon2id hash.
    assert_owasp_argon2id(email_item.body["password_hash"].as_str().unwrap());
}

async fn padded_mixed_case_email_logs_in_as_its_normalised_form(s: Store) {
    let user = users::sign_up(&s, "alice@example.com", PASSWORD).await.unwrap();
    let logged_in = users::log_in(&s, "  Alice@Example.COM ", PASSWORD, ip("192.0.2.1"))
        .await
        .unwrap();
    assert_eq!(logged_in, user);
    assert_eq!(logged_in.email, "alice@example.com");
}

async fn wrong_password_and_unknown_email_give_the_same_error(s: Store) {
    users::sign_up(&s, "dave@example.com", PASSWORD).await.unwrap();
    let wrong = users::log_in(&s, "dave@example.com", "not the password at all", None)
        .await
        .unwrap_err();
    let unknown = users::log_in(&s, "nobody@example.com", PASSWORD, None)
        .await
        .unwrap_err();
    let malformed = users::log_in(&s, "nobody", PASSWORD, None).await.unwrap_err();
    assert!(matches!(wrong, LoginError::Invalid), "{wrong:?}");
    assert!(matches!(unknown, LoginError::Invalid), "{unknown:?}");
    assert!(matches!(malformed, LoginError::Invalid), "{malformed:?}");
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.to_string(), malformed.to_string());
    assert!(!wrong.to_string().to_lowercase().contains("regist"));
}

async fn successful_login_costs_four_store_calls(s: Store) {
    // Was two (read counters and email record, read user). The attempt is now counted before the
    // password is checked, by two atomic increments (pair and source, run alongside the read), so
    // a burst of concurrent guesses cannot all be checked.
    users::sign_up(&s, "erin@example.com", PASSWORD).await.unwrap();
    let before = s.calls();
    users::log_in(&s, "erin@example.com", PASSWORD, ip("192.0.2.1"))
        .await
        .unwrap();
    assert_eq!(s.calls() - before, 4);
}

async fn successful_logins_do_not_count_toward_the_throttle(s: Store) {
    at_window_start(&s);
    users::sign_up(&s, "frank@example.com", PASSWORD).await.unwrap();
    for _ in 0..throttle::MAX_PAIR_ATTEMPTS * 2 {
        users::log_in(&s, "frank@example.com", PASSWORD, ip("192.0.2.1"))
            .await
            .unwrap();
    }
}

async fn a_source_is_throttled_on_an_account_after_five_attempts_until_the_window_ends(s: Store) {
    at_window_start(&s);
    users::sign_up(&s, "grace@example.com", PASSWORD).await.unwrap();
    let from = ip("198.51.100.7");
    for i in 0..throttle::MAX_PAIR_ATTEMPTS {
        let e = users::log_in(&s, "Grace@example.com", "wrong password guess", from)
            .await
            .unwrap_err();
        assert!(matches!(e, LoginError::Invalid), "failure {i}: {e:?}");
    }
    // Refused unchecked, even with the right password: the source has used its attempts.
    let refused = users::log_in(&s, "grace@example.com", PASSWORD, from)
        .await
        .unwrap_err();
    let LoginError::Throttled { retry_after } = refused else {
        panic!("expected Throttled, got {refused:?}");
    };
    assert!(retry_after > 0 && retry_after <= throttle::WINDOW_SECS, "{retry_after}");
    assert!(refused.to_string().contains("15 minutes"), "{refused}");
    s.clock().advance(retry_after);
    users::log_in(&s, "grace@example.com", PASSWORD, from).await.unwrap();
}

async fn concurrent_guesses_are_counted_before_they_are_checked(s: Store) {
    // 40 wrong passwords at once from one source: only the first five by count are checked.
    at_window_start(&s);
    users::sign_up(&s, "olga@example.com", PASSWORD).await.unwrap();
    let from = ip("198.51.100.40");
    let guesses: Vec<_> = (0..40)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { users::log_in(&s, "olga@example.com", "wrong password guess", from).await })
        })
        .collect();
    let mut results = Vec::new();
    for guess in guesses {
        results.push(guess.await.unwrap());
    }
    let checked = results.iter().filter(|r| matches!(r, Err(LoginError::Invalid))).count();
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(LoginError::Throttled { .. })))
        .count();
    assert_eq!(
        (checked, throttled),
        (
            throttle::MAX_PAIR_ATTEMPTS as usize,
            40 - throttle::MAX_PAIR_ATTEMPTS as usize
        )
    );
}

async fn failures_from_many_sources_slow_the_account_but_do_not_lock_out_its_owner(s: Store) {
    at_window_start(&s);
    users::sign_up(&s, "hank@example.com", PASSWORD).await.unwrap();
    for i in 0..throttle::MAX_ACCOUNT_FAILURES * 2 {
        let from = ip(&format!("198.51.100.{i}"));
        let e = users::log_in(&s, "hank@example.com", "wrong password guess", from)
            .await
            .unwrap_err();
        assert!(matches!(e, LoginError::Invalid), "failure {i}: {e:?}");
    }
    // The owner, from their own address, still gets in: slower, not refused.
    let started = std::time::Instant::now();
    users::log_in(&s, "hank@example.com", PASSWORD, ip("203.0.113.9"))
        .await
        .unwrap();
    assert!(started.elapsed() >= throttle::SLOW_DOWN, "{:?}", started.elapsed());
}

async fn failures_for_unknown_emails_are_throttled_like_a_real_account(s: Store) {
    at_window_start(&s);
    for _ in 0..throttle::MAX_PAIR_ATTEMPTS {
        users::log_in(&s, "ghost@example.com", PASSWORD, None)
            .await
            .unwrap_err();
    }
    // Throttled like a real account, so the throttle does not reveal which emails exist either.
    let e = users::log_in(&s, "ghost@example.com", PASSWORD, None)
        .await
        .unwrap_err();
    assert!(matches!(e, LoginError::Throttled { .. }), "{e:?}");
}

async fn ip_limit_applies_across_accounts(s: Store) {
    at_window_start(&s);
    let attacker = ip("198.51.100.77");
    users::sign_up(&s, "heidi@example.com", PASSWORD).await.unwrap();
    // The source's whole allowance spent on other accounts, each below its pair limit.
    let now = s.clock().now();
    for i in 0..throttle::MAX_IP_ATTEMPTS {
        let email = format!("victim{}@example.com", i % 25);
        let attempt = LoginCounters::new(&email, attacker, now)
            .count_attempt(&s, now)
            .await
            .unwrap();
        assert_eq!(attempt.verdict(), Ok(()), "attempt {i}");
    }
    let refused = users::log_in(&s, "heidi@example.com", PASSWORD, attacker)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, LoginError::Throttled { retry_after } if retry_after > 0),
        "{refused:?}"
    );
    // The same account from another address is unaffected.
    users::log_in(&s, "heidi@example.com", PASSWORD, ip("203.0.113.5"))
        .await
        .unwrap();
}

async fn throttle_counter_reads_back_as_its_count(s: Store) {
    // The throttle's cheap check reads counters with get/get_many: both backends must expose the
    // count as the item body.
    let now = s.clock().now();
    for _ in 0..3 {
        s.increment(Table::Limits, "counter", now + 60).await.unwrap();
    }
    let item = s.get(Table::Limits, "counter").await.unwrap().unwrap();
    assert_eq!(item.body.as_u64(), Some(3));
    let many = s.get_many(&[(Table::Limits, "counter".into())]).await.unwrap();
    assert_eq!(many[0].1.body.as_u64(), Some(3));
}

async fn account_failures_slow_down_only_past_the_soft_limit(s: Store) {
    at_window_start(&s);
    let counters = LoginCounters::new("ivan@example.com", ip("192.0.2.1"), s.clock().now());
    let read = |s: Store, c: LoginCounters| async move { s.get_many(&[c.account_key()]).await.unwrap() };
    for _ in 0..throttle::MAX_ACCOUNT_FAILURES {
        assert!(!counters.slow_down(&read(s.clone(), counters.clone()).await));
        counters.record_failure(&s).await.unwrap();
    }
    assert!(counters.slow_down(&read(s.clone(), counters.clone()).await));
}

async fn session_create_then_get_returns_it(s: Store) {
    let (cookie, session) = sessions::create(&s, "user-1", 3600).await.unwrap();
    assert_eq!(session.user_id, "user-1");
    assert_eq!(session.auth_time, session.created_at);
    assert_eq!(mcp_oauth::crypto::b64_decode(&cookie).map(|b| b.len()), Some(32));
    assert_eq!(sessions::get(&s, &cookie).await.unwrap(), Some(session.clone()));
    // The cookie-parsing path accepts what create issues.
    let headers = cookie_headers(&[&format!("{}={cookie}", sessions::COOKIE)]);
    assert_eq!(sessions::cookie_value(&headers), Some(cookie.clone()));
    // And get_many callers decode the same session.
    let many = s.get_many(&[(Table::Sessions, sessions::key(&cookie))]).await.unwrap();
    assert_eq!(sessions::from_item(&many[0].1).unwrap(), session);
    // Each session has its own cookie and CSRF secret.
    let (other_cookie, _) = sessions::create(&s, "user-1", 3600).await.unwrap();
    assert_ne!(cookie, other_cookie);
    assert_ne!(sessions::csrf_secret(&cookie), sessions::csrf_secret(&other_cookie));
}

async fn session_store_key_is_not_the_cookie_value(s: Store) {
    let (cookie, _) = sessions::create(&s, "user-1", 3600).await.unwrap();
    assert_ne!(sessions::key(&cookie), cookie);
    assert_eq!(s.get(Table::Sessions, &cookie).await.unwrap(), None);
    let item = s.get(Table::Sessions, &sessions::key(&cookie)).await.unwrap().unwrap();
    assert!(!item.key.contains(&cookie));
    assert!(!item.body.to_string().contains(&cookie), "{}", item.body);
}

async fn unknown_session_cookie_reads_as_absent(s: Store) {
    let forged = mcp_oauth::crypto::random_token();
    assert_eq!(sessions::get(&s, &forged).await.unwrap(), None);
}

async fn expired_session_reads_as_absent(s: Store) {
    let (cookie, _) = sessions::create(&s, "user-1", 60).await.unwrap();
    // Two seconds short of expiry: the wall clock may tick a second between create and get.
    s.clock().advance(58);
    assert!(sessions::get(&s, &cookie).await.unwrap().is_some());
    s.clock().advance(2);
    assert_eq!(sessions::get(&s, &cookie).await.unwrap(), None);
}

async fn deleted_session_reads_as_absent(s: Store) {
    let (cookie, _) = sessions::create(&s, "user-1", 3600).await.unwrap();
    let (kept, _) = sessions::create(&s, "user-1", 3600).await.unwrap();
    sessions::delete(&s, &cookie).await.unwrap();
    assert_eq!(sessions::get(&s, &cookie).await.unwrap(), None);
    assert!(sessions::get(&s, &kept).await.unwrap().is_some());
    // Logging out twice is harmless.
    sessions::delete(&s, &cookie).await.unwrap();
}

async fn upstream_identity_finds_the_user_it_created(s: Store) {
    let key = users::identity_key("github", "12345");
    let first = users::find_or_create_by_identity(&s, &key, Some(" Octo@Example.com"))
        .await
        .unwrap();
    assert_eq!(first.email, "octo@example.com");
    let again = users::find_or_create_by_identity(&s, &key, Some("changed@example.com"))
        .await
        .unwrap();
    assert_eq!(again, first);
    let other = users::find_or_create_by_identity(&s, &users::identity_key("github", "999"), None)
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(other.email, "");
}

async fn upstream_identity_is_not_linked_to_an_email_account(s: Store) {
    // An upstream's email claim may be unverified: trusting it would hand over the local account.
    let local = users::sign_up(&s, "judy@example.com", PASSWORD).await.unwrap();
    let key = users::identity_key("github", "judy");
    let social = users::find_or_create_by_identity(&s, &key, Some("judy@example.com"))
        .await
        .unwrap();
    assert_ne!(social.id, local.id);
}

async fn ten_concurrent_first_logins_of_one_identity_make_one_user(s: Store) {
    let key = users::identity_key("google", "sub-1");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, key) = (s.clone(), key.clone());
            tokio::spawn(async move { users::find_or_create_by_identity(&s, &key, None).await.unwrap() })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(users::get(&s, &ids[0]).await.unwrap().is_some());
}

macro_rules! on_backends {
    ($backend:ident) => {
        mod $backend {
            use super::*;
            on_backends!(@tests $backend:
                signing_up_twice_with_one_email_is_email_taken,
                ten_concurrent_sign_ups_of_one_email_make_one_account,
                sign_up_rejects_invalid_email_and_weak_password,
                stored_user_records_hold_no_plaintext_password,
                padded_mixed_case_email_logs_in_as_its_normalised_form,
                wrong_password_and_unknown_email_give_the_same_error,
                successful_login_costs_four_store_calls,
                successful_logins_do_not_count_toward_the_throttle,
                a_source_is_throttled_on_an_account_after_five_attempts_until_the_window_ends,
                concurrent_guesses_are_counted_before_they_are_checked,
                failures_from_many_sources_slow_the_account_but_do_not_lock_out_its_owner,
                failures_for_unknown_emails_are_throttled_like_a_real_account,
                ip_limit_applies_across_accounts,
                throttle_counter_reads_back_as_its_count,
                account_failures_slow_down_only_past_the_soft_limit,
                session_create_then_get_returns_it,
                session_store_key_is_not_the_cookie_value,
                unknown_session_cookie_reads_as_absent,
                expired_session_reads_as_absent,
                deleted_session_reads_as_absent,
                upstream_identity_finds_the_user_it_created,
                upstream_identity_is_not_linked_to_an_email_account,
                ten_concurrent_first_logins_of_one_identity_make_one_user,
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

on_backends!(embedded);
on_backends!(dynamodb);
