//! Password hashing (argon2id) and the password rules shown on the sign-up page.
//!
//! Not for: looking users up or counting failed logins (see `users` and `throttle`).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

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
}

/// Hashing failed: never the user's fault, answered as a server error.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| PasswordError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Enforces [`RULES`]. Lengths count characters, not bytes, so a non-Latin password is not
/// penalised for its encoding.
pub fn check_rules(password: &str, email: &str) -> Result<(), WeakPassword> {
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
    Ok(())
}

/// argon2id with OWASP parameters (m=19456 KiB, t=2, p=1) and a random 128-bit salt, as a PHC
/// string. Runs on tokio's blocking pool: it takes tens of milliseconds of CPU.
pub async fn hash(password: &str) -> Result<String, PasswordError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let phc = hasher()?
            .hash_password(password.as_bytes())
            .map_err(|e| PasswordError(e.to_string()))?;
        Ok(phc.to_string())
    })
    .await
    .map_err(|e| PasswordError(e.to_string()))?
}

/// True when `password` matches the PHC string. The parameters come from the string itself, and
/// the argon2 crate compares the outputs in constant time. A malformed hash verifies nothing.
pub async fn verify(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// Verifies against [`DUMMY_HASH`] and returns false: the cost of a real verify, for an unknown
/// account.
pub async fn verify_dummy(password: &str) -> bool {
    verify(password, DUMMY_HASH).await;
    false
}
