//! Bearer authentication for the MCP endpoint (MCP basic/authorization, RFC 6750, RFC 9068).
//!
//! Every request must carry `Authorization: Bearer <JWT>`: an ES256 access token from this
//! server, for this resource. The algorithm is pinned, so `none`, HS256 (a public key used as an
//! HMAC secret) and RS256 tokens fail before any key is consulted. Keys come from the
//! [`crate::keys::KeyRing`] cache, so a warm function validates without a store read.
//!
//! Failures answer as RFC 6750 and the MCP specification say: 401 with
//! `WWW-Authenticate: Bearer resource_metadata=…, scope=…` (plus `error="invalid_token"` when a
//! token was sent), and 403 `insufficient_scope` naming every scope the request needs.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::json;

use crate::keys::KeyRing;
use crate::scopes::Scopes;
use crate::tokens::access::AccessClaims;
use crate::tokens::principal::Principal;
use crate::urls::Urls;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY: u64 = 30;

/// Why a request was not let through.
#[derive(Debug, Clone, PartialEq)]
pub enum Challenge {
    /// No bearer token at all.
    Missing,
    /// A token or an Authorization header that does not pass; the reason is for the client.
    Invalid(String),
    /// The request used the query string or a form for its token (RFC 6750 §2.2-2.3).
    WrongPlace,
    /// Valid token, too few scopes: these are all the scopes the request needs.
    InsufficientScope(Vec<String>),
}

/// A challenge with the URLs it must name.
pub struct Denied {
    pub challenge: Challenge,
    pub prm: String,
    /// Every scope of the resource (the catalog's), for the 401 challenge's `scope`.
    pub resource_scopes: Vec<&'static str>,
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        // offline_access is the authorization server's scope, never the resource's.
        let all = self.resource_scopes.join(" ");
        let prm = quote(&self.prm);
        let (status, www, error, description) = match &self.challenge {
            Challenge::Missing => (
                StatusCode::UNAUTHORIZED,
                format!(r#"Bearer resource_metadata="{prm}", scope="{all}""#),
                "invalid_token",
                "an access token is required".to_owned(),
            ),
            Challenge::Invalid(why) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer error="invalid_token", error_description="{}", resource_metadata="{prm}", scope="{all}""#,
                    quote(why)
                ),
                "invalid_token",
                why.clone(),
            ),
            Challenge::WrongPlace => (
                StatusCode::BAD_REQUEST,
                format!(r#"Bearer error="invalid_request", resource_metadata="{prm}""#),
                "invalid_request",
                "send the access token in the Authorization header, never in the URL or body".to_owned(),
            ),
            Challenge::InsufficientScope(needed) => (
                StatusCode::FORBIDDEN,
                format!(
                    r#"Bearer error="insufficient_scope", scope="{}", resource_metadata="{prm}", error_description="this request needs scope {}""#,
                    needed.join(" "),
                    needed.join(" ")
                ),
                "insufficient_scope",
                format!("this request needs scope {}", needed.join(" ")),
            ),
        };
        let mut res = (status, Json(json!({"error": error, "error_description": description}))).into_response();
        if let Ok(v) = HeaderValue::from_str(&www) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

/// The bearer token of a request, or why there is none usable.
fn bearer<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Result<&'a str, Challenge> {
    // A token in a URL ends up in logs and Referer headers; refuse it outright.
    if query.is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")) {
        return Err(Challenge::WrongPlace);
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Challenge::Missing);
    };
    if values.next().is_some() {
        return Err(Challenge::Invalid("more than one Authorization header".into()));
    }
    let value = value
        .to_str()
        .map_err(|_| Challenge::Invalid("malformed Authorization header".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(Challenge::Invalid(
            "the Authorization header must be: Bearer <token>".into(),
        )),
    }
}

/// Validates the request's access token for this resource and returns who it speaks for, with
/// the reference of its grant when the token carries one (see `tokens::liveness`).
pub async fn authenticate(
    keys: &KeyRing,
    urls: &Urls,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(Principal, Option<String>), Challenge> {
    let token = bearer(headers, query)?;
    let invalid = |why: &str| Challenge::Invalid(why.to_owned());
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("the access token is not a JWT"))?;
    if header.alg != Algorithm::ES256 {
        return Err(invalid("the access token must be signed with ES256"));
    }
    // RFC 9068 §4: the typ keeps other JWTs (ID tokens, say) from passing as access tokens.
    if !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
        return Err(invalid("the token is not an access token (typ at+jwt)"));
    }
    let kid = header.kid.ok_or_else(|| invalid("the access token has no kid"))?;
    let key = keys
        .verifying_key(&kid)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot load verification keys");
            invalid("the access token cannot be verified right now")
        })?
        .ok_or_else(|| invalid("the access token was signed by an unknown key"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    // Lifetimes are judged below by the store's clock, the one every other expiry decision reads.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[urls.issuer()]);
    // No token passthrough: only tokens minted for this very resource are accepted.
    validation.set_audience(&[urls.mcp()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => invalid("the access token has expired"),
                ErrorKind::ImmatureSignature => invalid("the access token is not valid yet"),
                ErrorKind::InvalidAudience => invalid("the access token is for another resource"),
                ErrorKind::InvalidIssuer => invalid("the access token is from another issuer"),
                ErrorKind::InvalidSignature => invalid("the access token's signature does not verify"),
                _ => invalid("the access token is malformed"),
            }
        })?
        .claims;
    let (now, leeway) = (keys.clock().now(), LEEWAY as i64);
    if claims.exp < now - leeway {
        return Err(invalid("the access token has expired"));
    }
    if claims.nbf > now + leeway {
        return Err(invalid("the access token is not valid yet"));
    }
    // A machine token names its client as subject; nothing else may use that form of subject.
    let machine_subject = crate::tokens::access::machine_subject(&claims.client_id);
    if claims.machine != (claims.sub == machine_subject) || (!claims.machine && claims.sub.starts_with("client:")) {
        return Err(invalid("the access token's subject does not match its kind"));
    }
    let grant_ref = claims.gid.clone();
    let machine = claims.machine;
    let principal = Principal {
        user_id: claims.sub,
        client_id: claims.client_id,
        scopes: claims
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        key_id: kid,
        machine,
    };
    Ok((principal, grant_ref))
}

/// The scopes missing from `principal` among `needed`; if any, every needed scope, for the
/// step-up challenge (the client asks for all of them at once, not one at a time).
pub fn require(scopes: &Scopes, principal: &Principal, needed: &[&str]) -> Result<(), Challenge> {
    if needed.iter().all(|s| principal.has(s)) {
        return Ok(());
    }
    let mut all: Vec<String> = principal
        .scopes
        .iter()
        .filter(|s| scopes.info(s).is_some())
        .cloned()
        .collect();
    for s in needed {
        if !all.iter().any(|a| a == s) {
            all.push((*s).to_owned());
        }
    }
    Err(Challenge::InsufficientScope(all))
}
