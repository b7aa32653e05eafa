//! Small cryptographic helpers: random tokens, hashes for storage, constant-time comparison.
//!
//! Not for: JWTs (see `keys` and `tokens`) or passwords (see `accounts::password`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator failing is unrecoverable: no secret may be issued without entropy.
    getrandom::fill(&mut buf).expect("operating system random number generator failed");
    buf
}

/// A 256-bit random value, base64url without padding (43 characters).
pub fn random_token() -> String {
    b64(&random_bytes::<32>())
}

/// A 128-bit random identifier, base64url without padding (22 characters).
pub fn random_id() -> String {
    b64(&random_bytes::<16>())
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// SHA-256 of `input`, base64url: the form in which secrets are stored and looked up.
pub fn sha256_b64(input: &[u8]) -> String {
    b64(&Sha256::digest(input))
}

/// SHA-256 over several parts, each length-prefixed so that no two part lists collide.
pub fn sha256_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    b64(&h.finalize())
}

/// HMAC-SHA-256 of `msg` under `key`, base64url.
pub fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    b64(&mac.finalize().into_bytes())
}

/// Compares secrets (or their hashes) in constant time, so timing reveals no matching prefix.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_256_bit_and_distinct() {
        let a = random_token();
        assert_eq!(b64_decode(&a).unwrap().len(), 32);
        assert_ne!(a, random_token());
    }

    #[test]
    fn length_prefixing_keeps_part_lists_apart() {
        assert_ne!(sha256_parts(&[b"ab", b"c"]), sha256_parts(&[b"a", b"bc"]));
    }

    #[test]
    fn ct_eq_matches_equality() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }
}
