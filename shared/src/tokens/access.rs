//! JWT access tokens (RFC 9068): ES256-signed, `typ: at+jwt`, audience = the MCP resource.
//!
//! The MCP function verifies them with cached public keys and no store read.

use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use crate::crypto::random_id;
use crate::http::Internal;
use crate::keys::{KeyResult, KeyRing};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    /// The resource the token is for (RFC 8707): a token for another audience is refused, so a
    /// token minted for us can never be passed through to another service, nor theirs to us.
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The reference of the grant behind the token (`tokens::grants::reference`), so the MCP
    /// function can refuse it once the grant is revoked. Absent in tokens minted before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// True for a `client_credentials` token: the client acts for itself, `sub` is
    /// [`machine_subject`] of `client_id`, and no grant (`gid`) stands behind it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub machine: bool,
}

/// The `sub` of a machine client's own token. User ids are random base64url ids and never hold
/// a colon, so the two can never be confused.
pub fn machine_subject(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// What the access token says about whom and what.
pub struct AccessGrant<'a> {
    pub issuer: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub resource: &'a str,
    pub scope: &'a [String],
    /// The grant's reference (see `AccessClaims::gid`).
    pub grant_ref: Option<&'a str>,
    /// A `client_credentials` token (see `AccessClaims::machine`).
    pub machine: bool,
}

/// Signs an access token valid for `ttl` seconds from now. Returns the JWT and its claims.
pub async fn mint(keys: &KeyRing, grant: &AccessGrant<'_>, now: i64, ttl: i64) -> KeyResult<(String, AccessClaims)> {
    let signer = keys.signer().await?;
    let claims = AccessClaims {
        iss: grant.issuer.to_owned(),
        sub: grant.user_id.to_owned(),
        aud: grant.resource.to_owned(),
        client_id: grant.client_id.to_owned(),
        scope: grant.scope.join(" "),
        iat: now,
        nbf: now,
        exp: now + ttl,
        jti: random_id(),
        gid: grant.grant_ref.map(str::to_owned),
        machine: grant.machine,
    };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(signer.kid.clone());
    header.typ = Some("at+jwt".into());
    let jwt = jsonwebtoken::encode(&header, &claims, &signer.key)
        .map_err(|e| Internal::Key(format!("cannot sign with key {}: {e}", signer.kid)))?;
    Ok((jwt, claims))
}

/// The claims of an access token this issuer signed with a published key, or `None`: for the
/// revocation endpoint, which only needs to know which grant a presented token belongs to.
/// Expiry is not checked (revoking an expired token's grant is what its holder asks for).
pub async fn verified_claims(keys: &KeyRing, issuer: &str, token: &str) -> KeyResult<Option<AccessClaims>> {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Ok(None);
    };
    let Some(kid) = header.kid.filter(|_| header.alg == Algorithm::ES256) else {
        return Ok(None);
    };
    let Some(key) = keys.verifying_key(&kid).await? else {
        return Ok(None);
    };
    let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["iss", "sub"]);
    Ok(jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
        .ok()
        .map(|d| d.claims))
}
