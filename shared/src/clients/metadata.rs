//! The client metadata of a registration request (RFC 7591 §2): what is required, what is
//! defaulted, what is checked, and what is kept as sent.
//!
//! Known fields are checked and normalised (`scope` keeps only the scopes this server knows: [`Registration::keep_known_scopes`]);
//! unknown ones (such as the `application_type` that the Python MCP SDK sends) are kept as sent,
//! within [`MAX_FIELDS`] fields, [`MAX_UNKNOWN_DEPTH`] levels of nesting (so that every stored
//! record can be read back) and the request's size limit. A `null` counts as absent.
//!
//! Client-supplied text (`client_name`, the short texts, contacts, URLs) must not hold control
//! characters, nor format (Unicode category Cf) or other invisible or bidirectional characters:
//! `"\u{202e}edualC\u{202c}"` would show as "Claude" on the consent page. Fields
//! that only the server may set (`client_id`, `client_secret`, …) are dropped, so a client can
//! never choose its own id or secret.
//!
//! Not for: reading the HTTP request or storing the client (see `endpoints::register`).

use serde_json::{Map, Value};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::clients::redirect_uri;
use crate::clients::{AuthMethod, jwks};
use crate::scopes::Scopes;

pub const MAX_REDIRECT_URIS: usize = 10;
/// Most top-level fields a request may carry, known and unknown together.
pub const MAX_FIELDS: usize = 50;
/// Longest field name kept.
pub const MAX_FIELD_NAME: usize = 100;
/// Longest `client_name`, `software_id`, `application_type` and similar short texts, in characters.
pub const MAX_TEXT: usize = 200;
pub const MAX_CONTACTS: usize = 10;
/// Deepest nesting of arrays and objects in an unknown field's value (`{"a": [1]}` is 2). Real
/// extensions are flat or one level deep; the bound keeps the stored record far inside every
/// decoder's recursion limit (serde_json's 128, DynamoDB's 32 levels of attribute values).
pub const MAX_UNKNOWN_DEPTH: usize = 8;

const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];
/// What a client gets when it names no `grant_types` (RFC 7591 §2 defaults to the code grant).
const DEFAULT_GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];
const RESPONSE_TYPES: &[&str] = &["code"];
/// Set by the server only. `software_statement` is dropped as well: this server cannot verify one,
/// and echoing its unverified claims would look like acceptance (RFC 7591 §3.2.1 lets a server
/// replace or drop requested values).
const SERVER_OWNED: &[&str] = &[
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
    "software_statement",
];
const WEB_URLS: &[&str] = &["client_uri", "logo_uri", "tos_uri", "policy_uri"];
const SHORT_TEXTS: &[&str] = &["software_id", "software_version", "application_type"];

/// Why a request's metadata was refused: RFC 7591 §3.2.2's two codes for metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// `invalid_redirect_uri`
    #[error("{0}")]
    RedirectUri(String),
    /// `invalid_client_metadata`
    #[error("{0}")]
    Metadata(String),
}

use MetadataError::{Metadata, RedirectUri};

/// What a valid request registers.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub redirect_uris: Vec<String>,
    pub auth_method: AuthMethod,
    pub client_name: Option<String>,
    /// Everything to store and echo except `redirect_uris`, with defaults filled in.
    pub metadata: Map<String, Value>,
}

/// A value quoted for an error message, cut short if long.
fn quoted(s: &str) -> String {
    const SHOWN: usize = 100;
    match s.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// Removes a field, treating `null` as absent.
fn take(fields: &mut Map<String, Value>, name: &str) -> Option<Value> {
    fields.remove(name).filter(|v| !v.is_null())
}

fn text(value: Value, name: &str, max: usize) -> Result<String, MetadataError> {
    let Value::String(s) = value else {
        return Err(Metadata(format!("{name} must be a string")));
    };
    if s.is_empty() || s.chars().count() > max {
        return Err(Metadata(format!("{name} must be 1 to {max} characters long")));
    }
    if s.chars().any(char::is_control) {
        return Err(Metadata(format!("{name} must not contain control characters")));
    }
    if s.chars().any(invisible) {
        return Err(Metadata(format!(
            "{name} must not contain invisible, formatting or bidirectional control characters"
        )));
    }
    Ok(s)
}

/// A character that changes how the text around it is shown without being seen: Unicode's format
/// category Cf (bidi embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, the marks
/// U+200E, U+200F and U+061C, zero-width U+200B–U+200D, U+2060–U+2064, U+FEFF, the soft hyphen
/// U+00AD, tags …), plus the invisible ones outside Cf: line and paragraph separators (Zl, Zp),
/// the Hangul fillers and the variation selectors, which render as nothing.
pub fn invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    ) || matches!(
        c,
        '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' // Hangul fillers
            | '\u{180b}'..='\u{180f}' // Mongolian free variation selectors and vowel separator
            | '\u{fe00}'..='\u{fe0f}' // variation selectors
            | '\u{e0100}'..='\u{e01ef}' // variation selectors supplement
    )
}

/// How deeply arrays and objects nest in `value`: 0 for a scalar.
fn depth(value: &Value) -> usize {
    // Iterative, so that measuring a hostile value cannot itself overflow the stack.
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((v, level)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(level);
        pending.extend(children.map(|c| (c, level + 1)));
    }
    deepest
}

fn strings(value: Value, name: &str) -> Result<Vec<String>, MetadataError> {
    let Value::Array(items) = value else {
        return Err(Metadata(format!("{name} must be an array of strings")));
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            _ => Err(Metadata(format!("{name} must be an array of strings"))),
        })
        .collect()
}

/// A non-empty list drawn from `allowed`, duplicates removed; `default` when absent.
fn subset(
    fields: &mut Map<String, Value>,
    name: &str,
    allowed: &[&str],
    default: &[&str],
) -> Result<Vec<String>, MetadataError> {
    let Some(value) = take(fields, name) else {
        return Ok(default.iter().map(|s| s.to_string()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    for v in strings(value, name)? {
        if !allowed.contains(&v.as_str()) {
            return Err(Metadata(format!(
                "{name} {} is not supported; supported: {}",
                quoted(&v),
                allowed.join(", ")
            )));
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err(Metadata(format!("{name} must not be empty")));
    }
    Ok(out)
}

fn redirect_uris(value: Option<Value>) -> Result<Vec<String>, MetadataError> {
    let shape = || {
        RedirectUri(format!(
            "redirect_uris must be a non-empty array of at most {MAX_REDIRECT_URIS} strings"
        ))
    };
    let Some(Value::Array(items)) = value else {
        return Err(shape());
    };
    if items.is_empty() || items.len() > MAX_REDIRECT_URIS {
        return Err(shape());
    }
    let mut uris: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(uri) = item else {
            return Err(shape());
        };
        redirect_uri::check(&uri).map_err(|why| RedirectUri(format!("redirect_uri {} {why}", quoted(&uri))))?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

/// The requested scopes, each once, or None when there are none. Which of them this server knows
/// is the catalog's to say ([`Registration::keep_known_scopes`]).
fn scope(value: Value) -> Result<Option<String>, MetadataError> {
    let Value::String(s) = value else {
        return Err(Metadata("scope must be a string of space-separated scopes".into()));
    };
    let mut out: Vec<&str> = Vec::new();
    for token in s.split(' ').filter(|t| !t.is_empty()) {
        if !out.contains(&token) {
            out.push(token);
        }
    }
    Ok((!out.is_empty()).then(|| out.join(" ")))
}

impl Registration {
    /// Keeps of the registered `scope` only the scopes `known` (the catalog's) lists, dropping the
    /// field when none is left. Unknown scopes are dropped, not refused (RFC 7591 §3.2.1 lets the
    /// server replace requested values): Claude.ai registers with `scope: "claudeai"`, and
    /// refusing that would lock it out. A client asks for the scopes it needs at the
    /// authorization endpoint anyway.
    pub fn keep_known_scopes(&mut self, known: &Scopes) {
        let Some(requested) = self.metadata.get("scope").and_then(Value::as_str) else {
            return;
        };
        let kept: Vec<&str> = requested.split(' ').filter(|s| known.is_known(s)).collect();
        if kept.is_empty() {
            self.metadata.remove("scope");
        } else {
            let kept = kept.join(" ");
            self.metadata.insert("scope".into(), kept.into());
        }
    }
}

/// `jwks`, `jwks_uri` and `token_endpoint_auth_signing_alg`, checked: a `private_key_jwt` client
/// needs exactly one of `jwks` (public signing keys only, see `clients::jwks::check_jwks`) and
/// `jwks_uri` (https, or http on loopback for development; fetched only under the metadata
/// documents' guards). RFC 7591 §2 forbids sending both.
fn keys(fields: &mut Map<String, Value>, auth_method: AuthMethod) -> Result<Vec<(&'static str, Value)>, MetadataError> {
    let mut out = Vec::new();
    let jwks = take(fields, "jwks");
    let jwks_uri = take(fields, "jwks_uri");
    if jwks.is_some() && jwks_uri.is_some() {
        return Err(Metadata("send jwks or jwks_uri, not both".into()));
    }
    if let Some(jwks) = jwks {
        jwks::check_jwks(&jwks).map_err(Metadata)?;
        out.push(("jwks", jwks));
    }
    if let Some(uri) = jwks_uri {
        let uri = text(uri, "jwks_uri", redirect_uri::MAX_LEN)?;
        let ok = url::Url::parse(&uri).is_ok_and(|u| {
            u.as_str() == uri
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none()
                && (u.scheme() == "https"
                    || u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
        });
        if !ok {
            return Err(Metadata(format!(
                "jwks_uri {} must be an https URL in canonical form, without credentials or fragment",
                quoted(&uri)
            )));
        }
        out.push(("jwks_uri", uri.into()));
    }
    if auth_method == AuthMethod::PrivateKeyJwt && out.is_empty() {
        return Err(Metadata(
            "token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri".into(),
        ));
    }
    if let Some(alg) = take(fields, "token_endpoint_auth_signing_alg") {
        let alg = text(alg, "token_endpoint_auth_signing_alg", MAX_TEXT)?;
        if !jwks::ALGORITHMS.contains(&alg.as_str()) {
            return Err(Metadata(format!(
                "token_endpoint_auth_signing_alg {} is not supported; supported: {}",
                quoted(&alg),
                jwks::ALGORITHMS.join(", ")
            )));
        }
        out.push(("token_endpoint_auth_signing_alg", alg.into()));
    }
    Ok(out)
}

/// Checks a registration request's JSON body and returns what to register.
pub fn parse(body: Value) -> Result<Registration, MetadataError> {
    let Value::Object(mut fields) = body else {
        return Err(Metadata("the registration request must be a JSON object".into()));
    };
    if fields.len() > MAX_FIELDS {
        return Err(Metadata(format!("too many metadata fields (at most {MAX_FIELDS})")));
    }
    for name in SERVER_OWNED {
        fields.remove(*name);
    }

    let redirect_uris_field = take(&mut fields, "redirect_uris");

    let auth_method = match take(&mut fields, "token_endpoint_auth_method") {
        None => AuthMethod::None,
        Some(Value::String(s)) => AuthMethod::parse(&s).ok_or_else(|| {
            Metadata(format!(
                "token_endpoint_auth_method {} is not supported; supported: none, client_secret_basic, client_secret_post, private_key_jwt",
                quoted(&s)
            ))
        })?,
        Some(_) => return Err(Metadata("token_endpoint_auth_method must be a string".into())),
    };

    let keys = keys(&mut fields, auth_method)?;

    let grant_types = subset(&mut fields, "grant_types", GRANT_TYPES, DEFAULT_GRANT_TYPES)?;
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    // Refresh tokens come only from an authorization code here, so a client without a grant that
    // issues a token itself could never get one (RFC 7591 §2.1 asks servers to keep these fields
    // consistent).
    if !has("authorization_code") && !has("client_credentials") {
        return Err(Metadata(
            "grant_types must include authorization_code or client_credentials".into(),
        ));
    }
    // A public client proves nothing about who it is, so it cannot act as itself.
    if has("client_credentials") && auth_method == AuthMethod::None {
        return Err(Metadata(
            "client_credentials needs a confidential client: token_endpoint_auth_method client_secret_basic, client_secret_post or private_key_jwt".into(),
        ));
    }
    // Redirect URIs serve the code grant only; a machine-only client needs none.
    let redirect_uris = match redirect_uris_field {
        None if !has("authorization_code") => Vec::new(),
        field => redirect_uris(field)?,
    };
    let response_types = if has("authorization_code") {
        subset(&mut fields, "response_types", RESPONSE_TYPES, RESPONSE_TYPES)?
    } else {
        match take(&mut fields, "response_types")
            .map(|v| strings(v, "response_types"))
            .transpose()?
        {
            Some(types) if !types.is_empty() => {
                return Err(Metadata(
                    "response_types must be empty without the authorization_code grant".into(),
                ));
            }
            _ => Vec::new(),
        }
    };

    let mut metadata = Map::new();
    metadata.insert("token_endpoint_auth_method".into(), auth_method.as_str().into());
    metadata.insert("grant_types".into(), grant_types.into());
    metadata.insert("response_types".into(), response_types.into());
    for (name, value) in keys {
        metadata.insert(name.into(), value);
    }

    if let Some(registered) = take(&mut fields, "scope").map(scope).transpose()?.flatten() {
        metadata.insert("scope".into(), registered.into());
    }
    let client_name = take(&mut fields, "client_name")
        .map(|v| text(v, "client_name", MAX_TEXT))
        .transpose()?;
    if let Some(name) = &client_name {
        metadata.insert("client_name".into(), name.clone().into());
    }
    for name in WEB_URLS {
        if let Some(v) = take(&mut fields, name) {
            let url = text(v, name, redirect_uri::MAX_LEN)?;
            redirect_uri::check_web_url(&url).map_err(|why| Metadata(format!("{name} {} {why}", quoted(&url))))?;
            metadata.insert((*name).into(), url.into());
        }
    }
    for name in SHORT_TEXTS {
        if let Some(v) = take(&mut fields, name) {
            metadata.insert((*name).into(), text(v, name, MAX_TEXT)?.into());
        }
    }
    if let Some(v) = take(&mut fields, "contacts") {
        let contacts = strings(v, "contacts")?;
        if contacts.len() > MAX_CONTACTS {
            return Err(Metadata(format!("contacts may list at most {MAX_CONTACTS} addresses")));
        }
        let contacts = contacts
            .into_iter()
            .map(|c| text(Value::String(c), "each contact", MAX_TEXT))
            .collect::<Result<Vec<_>, _>>()?;
        metadata.insert("contacts".into(), contacts.into());
    }

    for (name, value) in fields {
        if name.is_empty() || name.len() > MAX_FIELD_NAME {
            return Err(Metadata(format!(
                "metadata field names must be 1 to {MAX_FIELD_NAME} bytes long"
            )));
        }
        if depth(&value) > MAX_UNKNOWN_DEPTH {
            return Err(Metadata(format!(
                "metadata field {} nests deeper than {MAX_UNKNOWN_DEPTH} levels",
                quoted(&name)
            )));
        }
        metadata.insert(name, value);
    }

    Ok(Registration {
        redirect_uris,
        auth_method,
        client_name,
        metadata,
    })
}
