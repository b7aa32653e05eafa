//! A client's public signing keys (`jwks`, or the set at its `jwks_uri`): which keys and
//! algorithms are accepted. Below both `clients::metadata` (registration and metadata documents
//! check a `jwks` with it) and `clients::assertion` (which verifies with the keys).

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

/// Accepted signature algorithms, by their JOSE names.
pub const ALGORITHMS: &[&str] = &["ES256", "RS256", "EdDSA"];
/// Most keys a client's key set may hold.
pub const MAX_KEYS: usize = 10;
/// Smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;
/// JWK members that only a private or symmetric key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Checks a key set a client registers or publishes: a JSON object whose `keys` holds 1 to
/// [`MAX_KEYS`] public signing keys: EC on P-256, RSA of at least 2048 bits, or OKP on Ed25519.
pub fn check_jwks(value: &Value) -> Result<JwkSet, String> {
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JSON object with a keys array")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("jwks must hold 1 to {MAX_KEYS} keys"));
    }
    for key in keys {
        let Value::Object(members) = key else {
            return Err("each key in jwks must be a JSON object".into());
        };
        // A private key registered by mistake would be stored and echoed: refuse it outright.
        if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
            return Err("jwks must hold public keys only (no d, p, q, dp, dq, qi, oth or k)".into());
        }
        if members.get("use").is_some_and(|u| u != "sig") {
            return Err("keys in jwks must be signing keys (use sig)".into());
        }
        let str_of = |name: &str| members.get(name).and_then(Value::as_str);
        match (str_of("kty"), str_of("crv")) {
            (Some("EC"), Some("P-256")) | (Some("OKP"), Some("Ed25519")) => {}
            (Some("RSA"), _) => {
                // base64url: 4 characters per 3 bytes.
                let bits = str_of("n").map_or(0, |n| n.trim_start_matches('A').len() * 6);
                if bits < MIN_RSA_BITS {
                    return Err(format!("RSA keys in jwks must have at least {MIN_RSA_BITS} bits"));
                }
            }
            _ => return Err("keys in jwks must be EC P-256, RSA or OKP Ed25519".into()),
        }
        if let Some(alg) = str_of("alg")
            && !ALGORITHMS.contains(&alg)
        {
            return Err(format!(
                "key alg {alg:?} is not supported; supported: {}",
                ALGORITHMS.join(", ")
            ));
        }
    }
    let set: JwkSet = serde_json::from_value(value.clone()).map_err(|e| format!("jwks is not a valid key set: {e}"))?;
    for jwk in &set.keys {
        DecodingKey::from_jwk(jwk).map_err(|e| format!("a key in jwks is not usable: {e}"))?;
    }
    Ok(set)
}
