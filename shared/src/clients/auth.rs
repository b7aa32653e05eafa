//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3, §5.2): reading the
//! credentials a request presents, and checking them against the registered client.
//!
//! Not for: user authentication (see `accounts`) or access-token validation (see `tokens`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use http::{HeaderMap, StatusCode, header};

use super::{AuthMethod, Client};
use crate::crypto::{ct_eq, sha256_b64};
use crate::http::ApiError;
use crate::store::Store;

/// Credentials a token/revocation request presented.
#[derive(Clone, PartialEq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    /// True when they came in an `Authorization: Basic` header.
    pub via_basic: bool,
}

impl fmt::Debug for ClientCredentials {
    // The secret never reaches a log line, even through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("via_basic", &self.via_basic)
            .finish()
    }
}

fn invalid_request(description: &str) -> ApiError {
    ApiError::bad_request("invalid_request", description)
}

/// 401 `invalid_client`; with the `WWW-Authenticate` challenge when the client tried Basic auth
/// (RFC 6749 §5.2 requires it then).
fn invalid_client(via_basic: bool, description: &str) -> ApiError {
    let error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_client", description);
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
/// §2.3.1) and/or the form's client_id / client_secret. Errors (as ApiError 400 invalid_request or
/// 401 invalid_client): malformed Basic header; credentials in both Basic and the body; a
/// client_id in the body that differs from the Basic one; no client_id at all.
///
/// An empty `client_secret` (in the body or after the Basic colon) counts as none: some public
/// clients send one.
pub fn credentials(
    headers: &HeaderMap,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<ClientCredentials, ApiError> {
    let form_client_id = form_client_id.filter(|s| !s.is_empty());
    let form_secret = form_secret.filter(|s| !s.is_empty());
    match basic(headers)? {
        Some((client_id, secret)) => {
            // RFC 6749 §2.3: a client must not use more than one authentication method at once.
            if form_secret.is_some() {
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
    authenticate_with(store, creds, false).await
}

/// Like [`authenticate`], resolving metadata-document clients (see `clients::document`);
/// `allow_loopback` is `Config::cimd_allow_loopback`.
pub async fn authenticate_with(
    store: &Store,
    creds: &ClientCredentials,
    allow_loopback: bool,
) -> Result<Client, ApiError> {
    let client = super::get_with(store, &creds.client_id, allow_loopback)
        .await?
        .ok_or_else(|| invalid_client(creds.via_basic, "unknown client"))?;
    check(client, creds)
}

/// For the revocation endpoint: authenticates like [`authenticate`] and returns the client id, but
/// never fetches a metadata document, so that unauthenticated requests there cannot make us fetch
/// (a revocation needs no document). A metadata-document client that is not cached is public by
/// construction, and for a public client RFC 7009 §2.1 asks only that the token was issued to it:
/// its `client_id` (presented without a secret) stands, and the grant's client is compared with it.
pub async fn authenticate_without_fetch(
    store: &Store,
    creds: &ClientCredentials,
    allow_loopback: bool,
) -> Result<String, ApiError> {
    let fail = |description: &str| invalid_client(creds.via_basic, description);
    match super::get(store, &creds.client_id).await? {
        Some(client) => check(client, creds).map(|c| c.client_id),
        None if super::document::is_document_id(&creds.client_id, allow_loopback) => match creds.secret {
            None => Ok(creds.client_id.clone()),
            Some(_) => Err(fail("this client is public and has no secret; do not send one")),
        },
        None => Err(fail("unknown client")),
    }
}

/// Checks the credentials against the client found.
fn check(client: Client, creds: &ClientCredentials) -> Result<Client, ApiError> {
    let fail = |description: &str| invalid_client(creds.via_basic, description);
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
