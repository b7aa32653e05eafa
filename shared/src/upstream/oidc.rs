//! Any OpenID Connect provider, by its issuer URL: the discovery document and JWKS (fetched and
//! cached per warm function), and ID token validation: signature against the provider's keys,
//! `iss`, `aud`, `exp` and the `nonce` this attempt sent; then the provider's policy (`policy`):
//! when its email counts as verified, and its allowed hosted domains.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::ProviderConfig;
use super::error::UpstreamError;
use super::identity::Identity;
use super::policy;
use crate::crypto::ct_eq;

/// How long a discovery document or key set is reused before it is fetched again.
const CACHE_FOR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// RFC 9207: the provider names itself in every authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl Discovery {
    /// RFC 9207 §2.4: when the provider sends `iss` (or promises to), it must be its issuer, or
    /// the response may come from another provider the user also signs in with (mix-up).
    pub fn accepts_response_issuer(&self, iss: Option<&str>) -> bool {
        match iss {
            Some(iss) => trim(iss) == trim(&self.issuer),
            None => !self.authorization_response_iss_parameter_supported,
        }
    }
}

static DISCOVERY: LazyLock<Mutex<HashMap<String, (Instant, Discovery)>>> = LazyLock::new(Default::default);
static KEYS: LazyLock<Mutex<HashMap<String, (Instant, JwkSet)>>> = LazyLock::new(Default::default);

fn cached<T: Clone>(cache: &Mutex<HashMap<String, (Instant, T)>>, key: &str) -> Option<T> {
    let map = cache.lock().ok()?;
    map.get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_FOR)
        .map(|(_, v)| v.clone())
}

fn remember<T>(cache: &Mutex<HashMap<String, (Instant, T)>>, key: &str, value: T) {
    if let Ok(mut map) = cache.lock() {
        map.insert(key.to_owned(), (Instant::now(), value));
    }
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    name: &str,
) -> Result<T, UpstreamError> {
    let res = http
        .get(url)
        .send()
        .await
        .map_err(|_| UpstreamError::Unreachable(name.to_owned()))?;
    if !res.status().is_success() {
        return Err(UpstreamError::Unreachable(name.to_owned()));
    }
    res.json()
        .await
        .map_err(|e| UpstreamError::Unverifiable(name.to_owned(), format!("unreadable document: {e}")))
}

fn trim(s: &str) -> &str {
    s.trim_end_matches('/')
}

/// The provider's discovery document; its `issuer` must be the configured issuer exactly
/// (OpenID Connect Discovery §4.3), or an impostor document could name another issuer's keys.
pub async fn discover(
    http: &reqwest::Client,
    p: &ProviderConfig,
    issuer: &url::Url,
) -> Result<Discovery, UpstreamError> {
    let issuer = trim(issuer.as_str());
    if let Some(d) = cached(&DISCOVERY, issuer) {
        return Ok(d);
    }
    let doc: Discovery = fetch_json(http, &format!("{issuer}/.well-known/openid-configuration"), &p.name).await?;
    if trim(&doc.issuer) != issuer {
        return Err(UpstreamError::Unverifiable(
            p.name.clone(),
            "the discovery document names another issuer".into(),
        ));
    }
    remember(&DISCOVERY, issuer, doc.clone());
    Ok(doc)
}

async fn key_for(
    http: &reqwest::Client,
    p: &ProviderConfig,
    jwks_uri: &str,
    kid: Option<&str>,
) -> Result<DecodingKey, UpstreamError> {
    let pick = |set: &JwkSet| match kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    };
    let found = cached(&KEYS, jwks_uri).as_ref().and_then(pick);
    let jwk = match found {
        Some(jwk) => jwk,
        None => {
            // Unknown kid: the provider may have rotated; fetch its keys once more.
            let set: JwkSet = fetch_json(http, jwks_uri, &p.name).await?;
            let jwk = pick(&set);
            remember(&KEYS, jwks_uri, set);
            jwk.ok_or_else(|| UpstreamError::Unverifiable(p.name.clone(), "signed by an unknown key".into()))?
        }
    };
    DecodingKey::from_jwk(&jwk).map_err(|_| UpstreamError::Unverifiable(p.name.clone(), "unusable signing key".into()))
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    hd: Option<String>,
    /// The rest: `email_verified`, `xms_edov`, whatever else the provider sends.
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// Validates an ID token and returns the identity it asserts, if the provider's policy admits it.
pub async fn validate_id_token(
    http: &reqwest::Client,
    p: &ProviderConfig,
    discovery: &Discovery,
    id_token: &str,
    nonce: &str,
) -> Result<Identity, UpstreamError> {
    let bad = |why: &str| UpstreamError::Unverifiable(p.name.clone(), why.to_owned());
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| bad("the ID token is not a JWT"))?;
    // Asymmetric algorithms only: with HS256 the key would be our client secret, and `none` is
    // no signature at all.
    let allowed = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    if !allowed.contains(&header.alg) {
        return Err(bad("the ID token uses a disallowed algorithm"));
    }
    let key = key_for(http, p, &discovery.jwks_uri, header.kid.as_deref()).await?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 60;
    validation.set_issuer(&[discovery.issuer.as_str(), trim(&discovery.issuer)]);
    validation.set_audience(&[p.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidAudience => bad("the ID token was issued to another client"),
                ErrorKind::InvalidIssuer => bad("the ID token is from another issuer"),
                ErrorKind::ExpiredSignature => bad("the ID token has expired"),
                ErrorKind::InvalidSignature => bad("the ID token's signature does not verify"),
                _ => bad("the ID token is malformed"),
            }
        })?
        .claims;
    // The nonce ties the token to this attempt: a token replayed from another sign-in fails.
    if !claims.nonce.as_deref().is_some_and(|n| ct_eq(n, nonce)) {
        return Err(bad("the ID token does not answer this sign-in (nonce)"));
    }
    let identity = Identity {
        subject: claims.sub,
        email: claims.email,
        email_verified: policy::email_verified(p.policy.email_trust, &claims.other),
        hosted_domain: claims.hd,
    };
    policy::admit(p, &identity)?;
    Ok(identity)
}

/// Fills in the email from the userinfo endpoint when the ID token carried none.
pub async fn with_userinfo(
    http: &reqwest::Client,
    p: &ProviderConfig,
    discovery: &Discovery,
    access_token: &str,
    mut identity: Identity,
) -> Result<Identity, UpstreamError> {
    if identity.email.is_some() {
        return Ok(identity);
    }
    let Some(endpoint) = &discovery.userinfo_endpoint else {
        return Ok(identity);
    };
    let res = http
        .get(endpoint)
        .bearer_auth(access_token)
        .send()
        .await
        .map_err(|_| UpstreamError::Unreachable(p.name.clone()))?;
    if !res.status().is_success() {
        return Err(UpstreamError::Refused(p.name.clone()));
    }
    let info: serde_json::Map<String, Value> = res
        .json()
        .await
        .map_err(|_| UpstreamError::Unverifiable(p.name.clone(), "unreadable userinfo".into()))?;
    // OpenID Connect Core §5.3.2: userinfo about another subject must be ignored.
    if info.get("sub").and_then(Value::as_str) != Some(identity.subject.as_str()) {
        return Err(UpstreamError::Unverifiable(
            p.name.clone(),
            "userinfo is about another user".into(),
        ));
    }
    identity.email = info.get("email").and_then(Value::as_str).map(str::to_owned);
    identity.email_verified = policy::email_verified(p.policy.email_trust, &info);
    Ok(identity)
}
