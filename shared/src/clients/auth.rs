//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3, §5.2): reading the
//! credentials a request presents, and checking them against the registered client. A
//! `private_key_jwt` assertion (RFC 7523 §2.2) is read here and verified in `clients::assertion`.
//!
//! Not for: user authentication (see `accounts`) or access-token validation (see `tokens`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use http::{HeaderMap, StatusCode, header};

use super::assertion::{self, AssertionError};
use super::{AuthMethod, Client};
use crate::crypto::{ct_eq, sha256_b64};
use crate::form::Params;
use crate::http::{ApiError, ErrorCode};
use crate::store::Store;

/// Credentials a token/revocation request presented.
#[derive(Clone, PartialEq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    /// True when they came in an `Authorization: Basic` header.
    pub via_basic: bool,
    /// A `client_assertion` of type jwt-bearer (RFC 7523 §2.2), not yet verified.
    pub assertion: Option<String>,
}

impl fmt::Debug for ClientCredentials {
    // The secret never reaches a log line, even through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("via_basic", &self.via_basic)
            .field("assertion", &self.assertion.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn invalid_request(description: &str) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidRequest, description)
}

/// 401 `invalid_client`; with the `WWW-Authenticate` challenge when the client tried Basic auth
/// (RFC 6749 §5.2 requires it then).
fn invalid_client(via_basic: bool, description: &str) -> ApiError {
    let error = ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidClient, description);
    if via_basic {
        error.with_header(header::WWW_AUTHENTICATE, r#"Basic realm="oauth""#)
    } else {
        error
    }
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte. An invalid
/// escape stays as written, as in form parsing.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The (client_id, secret) of an `Authorization: Basic` header; None when the header is absent or
/// uses another scheme; Err when it is Basic but malformed.
fn basic(headers: &HeaderMap) -> Result<Option<(String, Option<String>)>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || invalid_request("malformed Authorization: Basic header");
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return if value.trim().eq_ignore_ascii_case("basic") {
            Err(malformed())
        } else {
            Ok(None)
        };
    };
    // Other schemes are not client authentication at these endpoints; the body decides then.
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let encoded = encoded.trim();
    let raw = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .map_err(|_| malformed())?;
    let raw = String::from_utf8(raw).map_err(|_| malformed())?;
    let (id, secret) = raw.split_once(':').ok_or_else(malformed)?;
    // RFC 6749 §2.3.1: both halves are form-urlencoded before they are joined.
    let id = form_decode(id).filter(|id| !id.is_empty()).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, Some(secret).filter(|s| !s.is_empty()))))
}

/// From the Authorization: Basic header (client_id and secret are form-urlencoded inside, RFC 6749
/// §2.3.1), the form's client_id / client_secret, or the form's client_assertion_type /
/// client_assertion (RFC 7523 §2.2, where client_id may be omitted: the assertion's `sub` names
/// the client, and verification requires it to be the client_id). Errors (as ApiError 400
/// invalid_request or 401 invalid_client): malformed Basic header; more than one method at once;
/// a client_id in the body that differs from the Basic one or the assertion's; an assertion type
/// other than jwt-bearer; no client_id at all.
///
/// An empty `client_secret` (in the body or after the Basic colon) counts as none: some public
/// clients send one.
pub fn credentials_in(headers: &HeaderMap, p: &Params) -> Result<ClientCredentials, ApiError> {
    let assertion = match (p.get("client_assertion_type"), p.get("client_assertion")) {
        (None, None) => None,
        (Some(assertion::ASSERTION_TYPE), Some(a)) => Some(a.to_owned()),
        (Some(assertion::ASSERTION_TYPE), None) => {
            return Err(invalid_request(
                "client_assertion_type was sent without client_assertion",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid_request(
                "client_assertion was sent without client_assertion_type",
            ));
        }
        (Some(_), _) => {
            return Err(invalid_client(
                false,
                &format!(
                    "unsupported client_assertion_type; supported: {}",
                    assertion::ASSERTION_TYPE
                ),
            ));
        }
    };
    read(headers, p.get("client_id"), p.get("client_secret"), assertion)
}

/// Like [`credentials_in`], for a request that carries no assertion: the client_id and secret
/// from the Authorization: Basic header and/or the form's fields.
pub fn credentials(
    headers: &HeaderMap,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<ClientCredentials, ApiError> {
    read(headers, form_client_id, form_secret, None)
}

fn read(
    headers: &HeaderMap,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
    assertion: Option<String>,
) -> Result<ClientCredentials, ApiError> {
    let form_client_id = form_client_id.filter(|s| !s.is_empty());
    let form_secret = form_secret.filter(|s| !s.is_empty());
    match basic(headers)? {
        Some((client_id, secret)) => {
            // RFC 6749 §2.3: a client must not use more than one authentication method at once.
            if form_secret.is_some() || assertion.is_some() {
                return Err(invalid_request(
                    "client credentials were sent both in the Authorization header and in the body",
                ));
            }
            if form_client_id.is_some_and(|form_id| form_id != client_id) {
                return Err(invalid_request(
                    "the client_id in the body differs from the one in the Authorization header",
                ));
            }
            Ok(ClientCredentials {
                client_id,
                secret,
                via_basic: true,
                assertion: None,
            })
        }
        None if assertion.is_some() => {
            if form_secret.is_some() {
                return Err(invalid_request(
                    "send either client_secret or client_assertion, not both",
                ));
            }
            let claimed = assertion.as_deref().and_then(assertion::claimed_client);
            let client_id = match (form_client_id, claimed) {
                (Some(id), Some(sub)) if id != sub => {
                    return Err(invalid_client(false, "the client_assertion's sub is not the client_id"));
                }
                (Some(id), _) => id.to_owned(),
                (None, Some(sub)) => sub,
                (None, None) => return Err(invalid_client(false, "the client_assertion names no client (sub)")),
            };
            Ok(ClientCredentials {
                client_id,
                secret: None,
                via_basic: false,
                assertion,
            })
        }
        None => {
            let client_id = form_client_id.ok_or_else(|| {
                invalid_client(
                    false,
                    "no client authentication: send client_id (and the secret, if the client has one)",
                )
            })?;
            Ok(ClientCredentials {
                client_id: client_id.to_owned(),
                secret: form_secret.map(str::to_owned),
                via_basic: false,
                assertion: None,
            })
        }
    }
}

/// Looks the client up (1 store call) and authenticates it: a confidential client must present
/// its secret by its registered method (basic or post), compared in constant time on the hashes; a
/// public client must present no secret. Unknown client, wrong/missing secret, wrong method, a
/// secret sent for a public client -> 401 {"error":"invalid_client"} with
/// `WWW-Authenticate: Basic realm="oauth"` when the request used Basic auth (RFC 6749 §5.2). A
/// public client's id used without the secret a confidential client needs -> invalid_client.
///
/// The registered method binds: a `client_secret_post` client that sends Basic (or the reverse) is
/// refused. RFC 7591 §2 makes `token_endpoint_auth_method` the method the client will use, and a
/// client that switches methods is either misconfigured or not the client that registered.
pub async fn authenticate(store: &Store, creds: &ClientCredentials) -> Result<Client, ApiError> {
    authenticate_with(store, creds, false, &[]).await
}

/// Like [`authenticate`], resolving metadata-document clients (see `clients::document`);
/// `allow_loopback` is `Config::cimd_allow_loopback`. `audiences` are the `aud` values a
/// `private_key_jwt` assertion may name (this issuer and the endpoint's URL); with none, no
/// assertion passes.
pub async fn authenticate_with(
    store: &Store,
    creds: &ClientCredentials,
    allow_loopback: bool,
    audiences: &[String],
) -> Result<Client, ApiError> {
    let client = super::get_with(store, &creds.client_id, allow_loopback)
        .await?
        .ok_or_else(|| invalid_client(creds.via_basic, "unknown client"))?;
    check(store, client, creds, allow_loopback, audiences).await
}

/// For the revocation endpoint: authenticates like [`authenticate`] and returns the client id, but
/// never fetches a metadata document, so that unauthenticated requests there cannot make us fetch
/// (a revocation needs no document). A metadata-document client that is not cached is public by
/// construction here (its document, which might declare `private_key_jwt`, is unknown until
/// fetched), and for a public client RFC 7009 §2.1 asks only that the token was issued to it: its
/// `client_id` (presented without a secret) stands, and the grant's client is compared with it. A
/// cached document client is checked by its declared method like any other.
/// A `private_key_jwt` client's assertion is verified as at the token endpoint (which may fetch
/// its `jwks_uri`, under the same guards, for a client that is already cached or registered).
pub async fn authenticate_without_fetch(
    store: &Store,
    creds: &ClientCredentials,
    allow_loopback: bool,
    audiences: &[String],
) -> Result<String, ApiError> {
    let fail = |description: &str| invalid_client(creds.via_basic, description);
    match super::get(store, &creds.client_id).await? {
        Some(client) => check(store, client, creds, allow_loopback, audiences)
            .await
            .map(|c| c.client_id),
        None if super::document::is_document_id(&creds.client_id, allow_loopback) => {
            match (&creds.secret, &creds.assertion) {
                (None, None) => Ok(creds.client_id.clone()),
                // An uncached document client cannot be verified without fetching its document.
                (None, Some(_)) => Err(fail(
                    "this client's metadata document is not known here yet; use the token endpoint first",
                )),
                (Some(_), _) => Err(fail("this client is public and has no secret; do not send one")),
            }
        }
        None => Err(fail("unknown client")),
    }
}

/// Checks the credentials against the client found.
async fn check(
    store: &Store,
    client: Client,
    creds: &ClientCredentials,
    allow_loopback: bool,
    audiences: &[String],
) -> Result<Client, ApiError> {
    let fail = |description: &str| invalid_client(creds.via_basic, description);
    match (client.auth_method, &creds.assertion) {
        (AuthMethod::PrivateKeyJwt, Some(jwt)) => {
            return match assertion::verify(store, &client, jwt, audiences, allow_loopback).await {
                Ok(()) => Ok(client),
                Err(AssertionError::Store(e)) => Err(e.into()),
                Err(AssertionError::Invalid(why)) => {
                    tracing::warn!(event = "client_authentication_failed", client_id = %client.client_id, reason = %why);
                    Err(fail(&why))
                }
            };
        }
        (AuthMethod::PrivateKeyJwt, None) => {
            return Err(fail(
                "this client registered private_key_jwt: authenticate with a client_assertion",
            ));
        }
        (_, Some(_)) => {
            return Err(fail(
                "this client did not register private_key_jwt; do not send a client_assertion",
            ));
        }
        (_, None) => {}
    }
    let presented = creds.secret.as_deref();
    match (client.auth_method, &client.secret_hash, presented) {
        (AuthMethod::None, _, None) => Ok(client),
        // A secret on a public client means the caller believes it is someone else.
        (AuthMethod::None, _, Some(_)) => Err(fail("this client is public and has no secret; do not send one")),
        (_, _, None) => Err(fail("this client must authenticate with its client_secret")),
        (AuthMethod::ClientSecretBasic, _, Some(_)) if !creds.via_basic => Err(fail(
            "this client registered client_secret_basic: send the secret in the Authorization header",
        )),
        (AuthMethod::ClientSecretPost, _, Some(_)) if creds.via_basic => Err(fail(
            "this client registered client_secret_post: send the secret in the request body",
        )),
        (_, Some(hash), Some(secret)) if ct_eq(&sha256_b64(secret.as_bytes()), hash) => Ok(client),
        _ => {
            tracing::warn!(event = "client_authentication_failed", client_id = %client.client_id);
            Err(fail("client authentication failed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn form_decoding_turns_plus_into_space_and_keeps_bad_escapes() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("100%").as_deref(), Some("100%"));
        assert_eq!(form_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%FF"), None);
    }
}
