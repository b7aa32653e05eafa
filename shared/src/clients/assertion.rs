//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, as profiled by OpenID Connect
//! Core §9): the client signs a short-lived JWT with a private key whose public half it registered
//! (`jwks`) or publishes (`jwks_uri`), and sends it as `client_assertion`.
//!
//! Rules: `iss` and `sub` are the client id; `aud` names this issuer or the endpoint's URL; `exp`
//! is present, in the future and at most [`MAX_LIFETIME`] s ahead; `iat` and `nbf`, when present,
//! are not in the future (beyond [`LEEWAY`] s); `jti` is present and used once, enforced by a
//! create-if-absent record in `Table::Tickets` that expires with the assertion. Algorithms come
//! from [`ALGORITHMS`] only: never `none`, never HMAC (a shared-secret MAC would turn a public
//! key into a secret anyone can use). Times come from the store's clock.
//!
//! A `jwks_uri` is fetched with the metadata-document client's SSRF guards (see
//! `clients::document`), and cached per instance for its cache lifetime (one minute to one hour).
//!
//! Not for: client secrets (see `clients::auth`) or access tokens (see `tokens::access`).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::Client;
use super::document;
pub use super::jwks::{ALGORITHMS, MAX_KEYS, check_jwks};
use crate::crypto::sha256_parts;
use crate::store::{Item, Store, StoreError, Table};

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Furthest in the future an assertion's `exp` may be: a stolen assertion is worth little, and the
/// `jti` records it leaves expire soon.
pub const MAX_LIFETIME: i64 = 300;
/// Clock skew allowed on `exp`, `iat` and `nbf`.
pub const LEEWAY: i64 = 30;
/// Largest `client_assertion` read, and largest `jti`.
pub const MAX_ASSERTION: usize = 8 * 1024;
const MAX_JTI: usize = 256;
/// Largest key set read from a `jwks_uri`.
pub const MAX_JWKS_DOCUMENT: usize = 16 * 1024;
/// Bounds on how long a fetched key set is reused.
const MIN_JWKS_CACHE: i64 = 60;
const MAX_JWKS_CACHE: i64 = 3600;
/// Most key sets kept per instance; the cache is cleared when it is full.
const MAX_CACHED_SETS: usize = 1024;
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    /// Anything wrong with the assertion or the client's keys: 401 `invalid_client`.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(why: impl Into<String>) -> AssertionError {
    AssertionError::Invalid(why.into())
}

/// The unverified `sub` of an assertion: the client it claims to be, for requests that send no
/// `client_id`. Verification decides whether the claim holds.
pub fn claimed_client(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_ASSERTION {
        return None;
    }
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

fn algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "ES256" => Some(Algorithm::ES256),
        "RS256" => Some(Algorithm::RS256),
        "EdDSA" => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// Whether `jwk` is a key of the kind `alg` signs with (and names `alg`, if it names one).
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let kind = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => p.curve == EllipticCurve::P256 && alg == Algorithm::ES256,
        AlgorithmParameters::RSA(_) => alg == Algorithm::RS256,
        AlgorithmParameters::OctetKeyPair(p) => p.curve == EllipticCurve::Ed25519 && alg == Algorithm::EdDSA,
        _ => false,
    };
    let named = jwk
        .common
        .key_algorithm
        .is_none_or(|a| serde_json::to_value(a).ok() == serde_json::to_value(alg).ok());
    kind && named
}

struct Cached {
    until: i64,
    fetched_at: i64,
    set: JwkSet,
}

static JWKS_CACHE: LazyLock<Mutex<HashMap<String, Cached>>> = LazyLock::new(Default::default);

/// The key set at `uri`: from this instance's cache, or fetched (SSRF-guarded). `refresh` asks
/// for a fresh copy when the cached one is older than the minimum (a key the client just rotated
/// in), so an unknown `kid` cannot make us fetch more than once a minute per set.
async fn remote_keys(uri: &str, allow_loopback: bool, now: i64, refresh: bool) -> Result<JwkSet, AssertionError> {
    if let Some(hit) = JWKS_CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(uri)
        && hit.until > now
        && !(refresh && hit.fetched_at + MIN_JWKS_CACHE <= now)
    {
        return Ok(hit.set.clone());
    }
    let (value, ttl) = document::fetch_guarded_json(uri, allow_loopback, MAX_JWKS_DOCUMENT, now)
        .await
        .map_err(|e| invalid(format!("the client's jwks_uri: {e}")))?;
    let set = check_jwks(&value).map_err(|e| invalid(format!("the client's jwks_uri: {e}")))?;
    let mut cache = JWKS_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= MAX_CACHED_SETS {
        cache.clear();
    }
    let cached = Cached {
        until: now + ttl.clamp(MIN_JWKS_CACHE, MAX_JWKS_CACHE),
        fetched_at: now,
        set: set.clone(),
    };
    cache.insert(uri.to_owned(), cached);
    Ok(set)
}

/// The client's keys: its registered `jwks`, or its `jwks_uri`'s.
async fn keys(client: &Client, allow_loopback: bool, now: i64, refresh: bool) -> Result<JwkSet, AssertionError> {
    if let Some(jwks) = client.metadata.get("jwks") {
        return check_jwks(jwks).map_err(invalid);
    }
    match client.metadata.get("jwks_uri").and_then(Value::as_str) {
        Some(uri) => remote_keys(uri, allow_loopback, now, refresh).await,
        None => Err(invalid("this client has no keys registered (jwks or jwks_uri)")),
    }
}

/// Finds a key of `set` that verifies `assertion` as `alg`, preferring the header's `kid`, and
/// returns the assertion's claims; None when none does.
fn verify_with(set: &JwkSet, kid: Option<&str>, alg: Algorithm, assertion: &str) -> Option<Value> {
    let mut validation = Validation::new(alg);
    // Times and audience are checked below against the store's clock and our URLs.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    set.keys
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.common.key_id.as_deref() == Some(kid)))
        .filter(|k| fits(k, alg))
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .find_map(|key| jsonwebtoken::decode::<Value>(assertion, &key, &validation).ok())
        .map(|d| d.claims)
}

fn int_claim(claims: &Value, name: &str) -> Result<Option<i64>, AssertionError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid(format!("the assertion's {name} must be a number"))),
    }
}

/// Checks the claims of a correctly signed assertion; returns its `exp` and `jti`.
fn check_claims(
    claims: &Value,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<(i64, String), AssertionError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(invalid("the assertion's iss and sub must both be the client_id"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid(
            "the assertion's aud must be this issuer or this endpoint's URL",
        ));
    }
    let exp = int_claim(claims, "exp")?.ok_or_else(|| invalid("the assertion has no exp"))?;
    if exp + LEEWAY <= now {
        return Err(invalid("the assertion has expired"));
    }
    if exp > now + MAX_LIFETIME + LEEWAY {
        return Err(invalid(format!(
            "the assertion's exp is more than {MAX_LIFETIME} seconds ahead"
        )));
    }
    if int_claim(claims, "iat")?.is_some_and(|iat| iat > now + LEEWAY) {
        return Err(invalid("the assertion's iat is in the future"));
    }
    if int_claim(claims, "nbf")?.is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err(invalid("the assertion is not valid yet (nbf)"));
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or_else(|| invalid(format!("the assertion needs a jti of 1 to {MAX_JTI} characters")))?;
    Ok((exp, jti.to_owned()))
}

/// Verifies a `client_assertion` for `client` (registered for `private_key_jwt`): signature by one
/// of its keys, claims, then the single use of its `jti` (one store call, only once everything
/// else holds, so a bad assertion stores nothing). `audiences` are the accepted `aud` values.
pub async fn verify(
    store: &Store,
    client: &Client,
    assertion: &str,
    audiences: &[String],
    allow_loopback: bool,
) -> Result<(), AssertionError> {
    if assertion.len() > MAX_ASSERTION {
        return Err(invalid("the client_assertion is too long"));
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| invalid("the client_assertion is not a JWT"))?;
    let alg_name = serde_json::to_value(header.alg)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let alg = algorithm(&alg_name).ok_or_else(|| {
        invalid(format!(
            "the client_assertion's alg {alg_name:?} is not accepted; accepted: {}",
            ALGORITHMS.join(", ")
        ))
    })?;
    if let Some(registered) = client
        .metadata
        .get("token_endpoint_auth_signing_alg")
        .and_then(Value::as_str)
        && registered != alg_name
    {
        return Err(invalid(format!("this client registered {registered} assertions")));
    }
    let now = store.clock().now();
    let kid = header.kid.as_deref();
    let set = keys(client, allow_loopback, now, false).await?;
    let claims = match verify_with(&set, kid, alg, assertion) {
        Some(claims) => claims,
        // An unknown kid may be a key the client just rotated in: look again, at most once a minute.
        None if client.metadata.contains_key("jwks_uri") && kid.is_some_and(|k| set.find(k).is_none()) => {
            let set = keys(client, allow_loopback, now, true).await?;
            verify_with(&set, kid, alg, assertion)
                .ok_or_else(|| invalid("the client_assertion is not signed by one of the client's keys"))?
        }
        None => {
            return Err(invalid(
                "the client_assertion is not signed by one of the client's keys",
            ));
        }
    };
    let (exp, jti) = check_claims(&claims, &client.client_id, audiences, now)?;
    let mut record = Item::new(jti_key(&client.client_id, &jti), serde_json::json!({}));
    // Kept until the assertion could no longer pass the exp check.
    record.expires_at = Some(exp + LEEWAY + 1);
    if !store.create(Table::Tickets, record).await? {
        tracing::warn!(event = "client_assertion_replayed", client_id = %client.client_id);
        return Err(invalid("the client_assertion was already used (jti)"));
    }
    Ok(())
}

/// The `Table::Tickets` key recording a used `jti`: hashed, so that neither part is stored as sent.
pub fn jti_key(client_id: &str, jti: &str) -> String {
    format!("jti#{}", sha256_parts(&[client_id.as_bytes(), jti.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwks_with_a_private_key_is_refused() {
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}]});
        assert!(check_jwks(&jwks).unwrap_err().contains("public keys only"));
    }

    #[test]
    fn jwks_with_a_symmetric_key_or_other_curve_is_refused() {
        assert!(check_jwks(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err());
        assert!(check_jwks(&json!({"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]})).is_err());
        assert!(check_jwks(&json!({"keys": []})).is_err());
        assert!(check_jwks(&json!({"keys": "x"})).is_err());
    }

    #[test]
    fn a_key_fits_only_the_algorithm_of_its_type_and_its_named_alg() {
        let key = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let mut jwk: Value = serde_json::from_str(&key.public_key().to_jwk_string()).unwrap();
        let set = check_jwks(&json!({"keys": [jwk.clone()]})).unwrap();
        assert!(fits(&set.keys[0], Algorithm::ES256));
        assert!(!fits(&set.keys[0], Algorithm::RS256));
        assert!(!fits(&set.keys[0], Algorithm::EdDSA));
        jwk["alg"] = "ES256".into();
        let named = check_jwks(&json!({"keys": [jwk.clone()]})).unwrap();
        assert!(fits(&named.keys[0], Algorithm::ES256));
        jwk["alg"] = "HS256".into();
        assert!(
            check_jwks(&json!({"keys": [jwk]})).is_err(),
            "an HMAC alg on a key is refused"
        );
    }

    #[test]
    fn jti_keys_differ_per_client() {
        assert_ne!(jti_key("a", "bc"), jti_key("ab", "c"));
        assert!(jti_key("a", "b").starts_with("jti#"));
    }
}
