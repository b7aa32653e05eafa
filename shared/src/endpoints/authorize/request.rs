//! Parsing and validating authorization requests.
//!
//! [`identify`] checks `client_id` and `redirect_uri`; until it succeeds, errors are shown as a
//! page and never redirected (RFC 9700 §4.1: no redirect to an unverified URI). [`validate`]
//! checks the rest; its errors are redirected to the now-trusted `redirect_uri`.

use crate::clients::Client;
use crate::form::Params;
use crate::resource;
use crate::scopes::Scopes;
use crate::tokens::pkce;
use crate::urls::Urls;

/// The authorization request parameters carried through the forms as hidden fields.
pub const CARRIED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "state",
    "resource",
    "prompt",
];

/// An error shown as a page (client or redirect URI not verified).
#[derive(Debug, PartialEq)]
pub struct PageError {
    pub title: &'static str,
    pub message: String,
}

/// An error redirected to the client (RFC 6749 §4.1.2.1).
#[derive(Debug, PartialEq)]
pub struct RedirectError {
    pub error: &'static str,
    pub description: String,
}

fn redirect_err(error: &'static str, description: impl Into<String>) -> RedirectError {
    RedirectError {
        error,
        description: description.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A fully validated authorization request.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub prompt: Prompt,
}

/// The client must exist and the `redirect_uri` must be one it registered (a loopback URI on any
/// port). Without `redirect_uri`, a client with exactly one registered URI gets that one.
pub fn identify(p: &Params, client: Option<&Client>) -> Result<String, PageError> {
    let Some(client_id) = p.get("client_id") else {
        return Err(PageError {
            title: "This sign-in link is incomplete",
            message: "The request has no client_id.".into(),
        });
    };
    let Some(client) = client.filter(|c| c.client_id == client_id) else {
        return Err(PageError {
            title: "Unknown application",
            message: "The application asking you to sign in is not registered with this server.".into(),
        });
    };
    match p.get("redirect_uri") {
        Some(uri) if client.redirect_uri_matches(uri) => Ok(uri.to_owned()),
        Some(_) => Err(PageError {
            title: "This sign-in link is not valid",
            message: "The address to return to is not one the application registered, so you will not be sent there."
                .into(),
        }),
        None => match client.redirect_uris.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(PageError {
                title: "This sign-in link is incomplete",
                message: "The request does not say where to return to (redirect_uri).".into(),
            }),
        },
    }
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, RedirectError> {
    let mut prompt = Prompt::default();
    for value in raw.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // Accounts are chosen by signing in; there is nothing else to select.
            "select_account" => {}
            other => {
                return Err(redirect_err(
                    "invalid_request",
                    format!("unsupported prompt value {other:?}"),
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(redirect_err(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// Validates everything after the client and `redirect_uri`.
pub fn validate(
    p: &Params,
    client: &Client,
    redirect_uri: String,
    urls: &Urls,
    known: &Scopes,
) -> Result<AuthorizeRequest, RedirectError> {
    match p.get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(redirect_err(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
        None => return Err(redirect_err("invalid_request", "response_type is required")),
    }
    // PKCE is required, and only S256: plain would expose the verifier in the request itself.
    let Some(code_challenge) = p.get("code_challenge") else {
        return Err(redirect_err(
            "invalid_request",
            "code_challenge is required (PKCE with S256)",
        ));
    };
    match p.get("code_challenge_method") {
        Some("S256") => {}
        Some(other) => {
            return Err(redirect_err(
                "invalid_request",
                format!("code_challenge_method {other:?} is not supported; use S256"),
            ));
        }
        None => {
            return Err(redirect_err(
                "invalid_request",
                "code_challenge_method is required and must be S256",
            ));
        }
    }
    if !pkce::valid_challenge(code_challenge) {
        return Err(redirect_err(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 digest (43 characters)",
        ));
    }
    let scope = known
        .parse(p.get("scope"))
        .map_err(|e| redirect_err("invalid_scope", e))?;
    // A client's registered `scope` is not a ceiling: MCP clients register before they know
    // what a tool will need, and step-up authorization asks for more later (MCP 2025-11-25).
    let resource = resource::resolve(p.get("resource"), urls).map_err(|e| redirect_err("invalid_target", e))?;
    Ok(AuthorizeRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        state: p.get("state").map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        scope,
        resource,
        prompt: parse_prompt(p.get("prompt"))?,
    })
}

/// The request's parameters as hidden form fields, exactly as received.
pub fn hidden(p: &Params) -> Vec<(&'static str, String)> {
    CARRIED
        .iter()
        .filter_map(|name| p.get(name).map(|v| (*name, v.to_owned())))
        .collect()
}
