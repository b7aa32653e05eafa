//! Password hashing (argon2id) and the password rules shown on the sign-up page, after NIST SP
//! 800-63B §5.1.1.2: Unicode NFKC normalisation before anything else, length in characters, no
//! composition rules, and a check against a list of commonly used and leaked passwords.
//!
//! Not for: looking users up or counting failed logins (see `users` and `throttle`).

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::{IsNormalized, is_nfkc_quick};

/// Fewest characters a password may have (NIST SP 800-63B asks for at least 8; we ask for more
/// because there are no composition rules).
pub const MIN_CHARS: usize = 12;
/// Most characters a password may have: long enough for any passphrase or manager.
pub const MAX_CHARS: usize = 128;

/// The rules, one human-readable line each, for the sign-up page.
pub const RULES: &[&str] = &[
    "At least 12 characters.",
    "At most 128 characters.",
    "Not your email address.",
    "Not a single character repeated.",
    "Not a commonly used or leaked password.",
    "Any characters are allowed, including spaces and emoji; a long passphrase is best.",
];

/// OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// A well-formed hash with our parameters, of a password nobody knows. Logging in with an unknown
/// email verifies against it, so the answer takes as long as for a registered email.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$7zYRFmsh/9Zr/zYifA2xeQ$bhEjKRmdCmyD9JYcfLvIKuuKnGu685f/VNx5LSOpclY";

/// Why a password was refused; the message is shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("Use at least 12 characters.")]
    TooShort,
    #[error("Use at most 128 characters.")]
    TooLong,
    #[error("Do not use your email address as your password.")]
    SameAsEmail,
    #[error("Do not use one character repeated; try a few words instead.")]
    Repetitive,
    #[error("This password appears in lists of leaked passwords; choose another.")]
    Breached,
}

/// The most common leaked passwords that our length rules would otherwise let through: NFKC,
/// lower case, sorted bytewise, one a line. Source and licence: `shared/data/README.md`.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

static COMMON: LazyLock<Vec<&'static str>> = LazyLock::new(|| COMMON_PASSWORDS.lines().collect());

/// Whether `normalized` (already NFKC) is on the list, ignoring case.
fn is_common(normalized: &str) -> bool {
    COMMON.binary_search(&normalized.to_lowercase().as_str()).is_ok()
}

/// NFKC (SP 800-63B §5.1.1.2): one password typed on two keyboards, or pasted from two
/// programs (composed é against e + combining accent, full-width against ASCII), is one password.
pub fn normalize(password: &str) -> Cow<'_, str> {
    if is_nfkc_quick(password.chars()) == IsNormalized::Yes {
        Cow::Borrowed(password)
    } else {
        Cow::Owned(password.nfkc().collect())
    }
}

/// Hashing failed, or could not start in time: never the user's fault, answered 503.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Failed(String),
    /// Every argon2 slot stayed taken for [`BUSY_WAIT`].
    #[error("too many password checks at once")]
    Busy,
}

/// argon2 computations allowed at once when `ARGON2_CONCURRENCY` is not set. Each holds
/// [`M_COST_KIB`] (19 MiB) for tens of milliseconds: four is 76 MiB, which fits the smallest
/// function (128 MB), and keeps two cores busy with room to spare. Lambda runs one request per
/// instance at a time, so there the bound only matters for the dev server and other hosts.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// How long a computation waits for a free slot before the request is answered 503 with
/// `Retry-After`: a short burst queues, a flood does not pile up memory or latency.
pub const BUSY_WAIT: Duration = Duration::from_secs(2);

/// Caps concurrent argon2 runs: without a cap, tokio's blocking pool would run 512 at once
/// (about 10 GB of argon2 memory).
pub struct Limiter {
    permits: Semaphore,
    wait: Duration,
}

impl Limiter {
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Limiter {
            permits: Semaphore::new(concurrency.max(1)),
            wait,
        }
    }

    /// Runs `f` on the blocking pool once a slot is free, or answers [`PasswordError::Busy`]
    /// when none frees up within the wait.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
        let _permit = tokio::time::timeout(self.wait, self.permits.acquire())
            .await
            .map_err(|_| PasswordError::Busy)?
            .map_err(|_| PasswordError::Busy)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| PasswordError::Failed(e.to_string()))
    }
}

static LIMITER: OnceLock<Limiter> = OnceLock::new();

/// Sets the process-wide cap (`ARGON2_CONCURRENCY`); the first call wins, later ones are ignored.
pub fn set_concurrency(concurrency: usize) {
    let _ = LIMITER.set(Limiter::new(concurrency, BUSY_WAIT));
}

fn limiter() -> &'static Limiter {
    LIMITER.get_or_init(|| Limiter::new(DEFAULT_CONCURRENCY, BUSY_WAIT))
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| PasswordError::Failed(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Enforces [`RULES`] on the normalised password. Lengths count characters, not bytes, so a
/// non-Latin password is not penalised for its encoding.
pub fn check_rules(password: &str, email: &str) -> Result<(), WeakPassword> {
    let password = normalize(password);
    let password = password.as_ref();
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(WeakPassword::TooLong);
    }
    let email = email.trim();
    if !email.is_empty() && password.trim().to_lowercase() == email.to_lowercase() {
        return Err(WeakPassword::SameAsEmail);
    }
    let mut rest = password.chars();
    if let Some(first) = rest.next()
        && rest.all(|c| c == first)
    {
        return Err(WeakPassword::Repetitive);
    }
    if is_common(password) {
        return Err(WeakPassword::Breached);
    }
    Ok(())
}

/// argon2id with OWASP parameters (m=19456 KiB, t=2, p=1) and a random 128-bit salt, as a PHC
/// string, of the NFKC-normalised password. Runs on tokio's blocking pool, within the
/// concurrency cap: it takes tens of milliseconds of CPU and 19 MiB.
pub async fn hash(password: &str) -> Result<String, PasswordError> {
    let password = normalize(password).into_owned();
    limiter()
        .run(move || {
            let phc = hasher()?
                .hash_password(password.as_bytes())
                .map_err(|e| PasswordError::Failed(e.to_string()))?;
            Ok(phc.to_string())
        })
        .await?
}

/// True when `password`, normalised as [`hash`] does, matches the PHC string. The parameters
/// come from the string itself, and the argon2 crate compares the outputs in constant time. A
/// malformed hash verifies nothing. [`PasswordError::Busy`] when the concurrency cap stays full.
pub async fn verify(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let normalized = normalize(password);
    // A hash made before passwords were normalised is of the password as typed: try that too,
    // only when it differs (the extra cost says nothing about the account, only about the input).
    let typed = matches!(normalized, Cow::Owned(_)).then(|| password.to_owned());
    let (normalized, phc) = (normalized.into_owned(), phc.to_owned());
    limiter()
        .run(move || {
            let matches = |candidate: &str| {
                Argon2::default()
                    .verify_password(candidate.as_bytes(), phc.as_str())
                    .is_ok()
            };
            matches(&normalized) || typed.as_deref().is_some_and(matches)
        })
        .await
}

/// Verifies against [`DUMMY_HASH`] and returns false: the cost of a real verify, for an unknown
/// account.
pub async fn verify_dummy(password: &str) -> Result<bool, PasswordError> {
    verify(password, DUMMY_HASH).await.map(|_| false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NFC: &str = "caf\u{e9} au lait, s'il vous pla\u{ee}t";
    const NFD: &str = "cafe\u{301} au lait, s'il vous plai\u{302}t";

    #[test]
    fn the_common_password_list_is_normalised_lower_case_sorted_and_unique() {
        assert!(COMMON.len() > 100);
        assert!(
            COMMON.windows(2).all(|w| w[0] < w[1]),
            "sorted and unique, for binary search"
        );
        for p in COMMON.iter() {
            assert_eq!(normalize(p), *p);
            assert_eq!(p.to_lowercase(), *p);
            assert!(p.chars().count() >= MIN_CHARS, "{p} could never pass the length rule");
        }
    }

    #[test]
    fn a_common_12_character_password_is_refused_in_any_case() {
        assert_eq!(check_rules("qwerty123456", "a@b.co"), Err(WeakPassword::Breached));
        assert_eq!(check_rules("LeaveMeAlone", "a@b.co"), Err(WeakPassword::Breached));
        assert_eq!(check_rules("qwerty123456 but longer", "a@b.co"), Ok(()));
    }

    #[test]
    fn a_full_width_spelling_of_a_common_password_is_refused() {
        // Full-width Latin letters are NFKC-equivalent to ASCII ones.
        let full_width: String = "qwerty123456"
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert_ne!(full_width, "qwerty123456");
        assert_eq!(check_rules(&full_width, "a@b.co"), Err(WeakPassword::Breached));
    }

    #[test]
    fn length_is_counted_after_normalisation() {
        // Six accented letters typed decomposed: 12 code points, 6 characters after NFKC.
        let decomposed = "e\u{301}".repeat(3) + &"a\u{300}".repeat(3);
        assert_eq!(decomposed.chars().count(), 12);
        assert_eq!(check_rules(&decomposed, "a@b.co"), Err(WeakPassword::TooShort));
        // Four "ﬃ" ligatures: 4 code points, 12 letters after NFKC.
        let ligatures = "ﬃ".repeat(4);
        assert_eq!(ligatures.chars().count(), 4);
        assert_eq!(check_rules(&ligatures, "a@b.co"), Ok(()));
    }

    #[test]
    fn nfc_and_nfd_spellings_normalise_alike() {
        assert_ne!(NFC, NFD);
        assert_eq!(normalize(NFC), normalize(NFD));
        assert!(matches!(normalize("plain ascii"), Cow::Borrowed(_)));
    }

    #[tokio::test]
    async fn nfc_and_nfd_spellings_of_one_password_both_verify() {
        let phc = hash(NFC).await.unwrap();
        assert!(verify(NFD, &phc).await.unwrap());
        assert!(verify(NFC, &phc).await.unwrap());
        let phc = hash(NFD).await.unwrap();
        assert!(verify(NFC, &phc).await.unwrap());
        assert!(!verify("cafe au lait, s'il vous plait", &phc).await.unwrap());
    }

    #[tokio::test]
    async fn a_hash_of_an_unnormalised_password_still_verifies() {
        // As stored before normalisation: the NFD bytes hashed as they were typed.
        let legacy = hasher().unwrap().hash_password(NFD.as_bytes()).unwrap().to_string();
        assert!(verify(NFD, &legacy).await.unwrap());
        assert!(
            !verify(NFC, &legacy).await.unwrap(),
            "only the spelling that was hashed"
        );
    }

    #[tokio::test]
    async fn argon2_concurrency_never_exceeds_the_cap() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let limiter = Arc::new(Limiter::new(2, Duration::from_secs(30)));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let runs = (0..8).map(|_| {
            let (limiter, running, most) = (limiter.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                limiter
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // Real work of about an argon2 run, so the runs overlap if allowed to.
                        hasher().unwrap().hash_password(b"a password of some length").unwrap();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            })
        });
        for run in runs.collect::<Vec<_>>() {
            run.await.unwrap().unwrap();
        }
        assert!(
            most.load(Ordering::SeqCst) <= 2,
            "{} at once",
            most.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn argon2_answers_busy_when_every_slot_stays_taken() {
        let limiter = Limiter::new(1, Duration::from_millis(50));
        let held = limiter.permits.acquire().await.unwrap();
        assert!(matches!(limiter.run(|| ()).await, Err(PasswordError::Busy)));
        drop(held);
        assert!(limiter.run(|| ()).await.is_ok(), "a freed slot is taken again");
    }
}
