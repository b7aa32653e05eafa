//! Client ID Metadata Documents (MCP 2025-11-25; draft-ietf-oauth-client-id-metadata-document):
//! a client whose `client_id` is an https URL needs no registration. We fetch the JSON document
//! at that URL, check that it names itself as that `client_id`, validate it like a registration,
//! and keep it in the clients table for a while (its cache lifetime, bounded) so later requests
//! cost one store read, as for registered clients.
//!
//! Fetching a URL a stranger chose is a server-side request forgery risk, so: https only, a
//! domain name (never an IP literal), addresses that resolve to private, loopback or link-local
//! ranges refused, no redirects, a 3 s deadline and a 5 KiB body limit. Such clients are public
//! (`token_endpoint_auth_method: none`): we do not accept `private_key_jwt`.
//!
//! `CIMD_ALLOW_LOOPBACK=1` (local development and tests only; refused in Lambda) also accepts
//! `http://localhost:<port>/…` and `http://127.0.0.1:<port>/…` documents.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::{AuthMethod, Client};
use crate::register::metadata;
use crate::store::{Store, StoreError, Table, typed};

/// Largest metadata document read.
pub const MAX_DOCUMENT: usize = 5 * 1024;
/// Bounds on how long a fetched document is reused.
const MIN_CACHE: i64 = 300;
const MAX_CACHE: i64 = 86_400;
const DEFAULT_CACHE: i64 = 3600;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocumentError {
    #[error("the client's metadata document could not be fetched")]
    Unreachable,
    #[error("the client's metadata document is not valid: {0}")]
    Invalid(String),
}

/// True when `client_id` is a URL that must be resolved as a metadata document: https with a
/// host name and a path, no fragment, no credentials, no dot segments.
pub fn is_document_id(client_id: &str, allow_loopback: bool) -> bool {
    document_url(client_id, allow_loopback).is_some()
}

fn is_loopback_host(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

fn document_url(client_id: &str, allow_loopback: bool) -> Option<Url> {
    let url = Url::parse(client_id).ok()?;
    // The client id must be exactly the URL's canonical text, or two ids could name one document.
    if url.as_str() != client_id {
        return None;
    }
    let loopback_ok = allow_loopback && url.scheme() == "http" && is_loopback_host(&url);
    let host_ok = match url.host()? {
        url::Host::Domain(_) => url.scheme() == "https" || loopback_ok,
        _ => loopback_ok,
    };
    let ok = host_ok
        && url.path() != "/"
        && !url.path().split('/').any(|s| s == "." || s == "..")
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    ok.then_some(url)
}

/// Refuses addresses no public document can live at.
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64/10, carrier NAT
                || v4.octets()[0] >= 224)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| !public(IpAddr::V4(v4))))
        }
    }
}

/// Resolves names like the system does, then drops every non-public address.
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found
                .filter(|a| public(a.ip()) || (allow_loopback && a.ip().is_loopback() && host == "localhost"))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn http(allow_loopback: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicOnly { allow_loopback }))
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(3))
        .user_agent(concat!("mcp-oauth-lambda/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// How long the response says it may be reused, within our bounds.
fn cache_seconds(headers: &reqwest::header::HeaderMap) -> i64 {
    let max_age = headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<i64>().ok())
        });
    max_age.unwrap_or(DEFAULT_CACHE).clamp(MIN_CACHE, MAX_CACHE)
}

/// Fetches and validates the document at `url`.
async fn fetch(url: &Url, allow_loopback: bool) -> Result<(Client, i64), DocumentError> {
    let mut res = http(allow_loopback)
        .get(url.as_str())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| DocumentError::Unreachable)?;
    if !res.status().is_success() {
        return Err(DocumentError::Unreachable);
    }
    let ttl = cache_seconds(res.headers());
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|_| DocumentError::Unreachable)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT {
            return Err(DocumentError::Invalid(format!("larger than {MAX_DOCUMENT} bytes")));
        }
    }
    let doc: Value = serde_json::from_slice(&body).map_err(|e| DocumentError::Invalid(format!("not JSON: {e}")))?;
    if doc.get("client_id").and_then(Value::as_str) != Some(url.as_str()) {
        return Err(DocumentError::Invalid(
            "its client_id is not the URL it was fetched from".into(),
        ));
    }
    if doc.get("client_secret").is_some() || doc.get("client_secret_expires_at").is_some() {
        return Err(DocumentError::Invalid(
            "a metadata document must not carry a client secret".into(),
        ));
    }
    let reg = metadata::parse(doc).map_err(|e| DocumentError::Invalid(e.to_string()))?;
    if reg.auth_method != AuthMethod::None {
        return Err(DocumentError::Invalid(
            "only public clients (token_endpoint_auth_method none) are supported".into(),
        ));
    }
    let client = Client {
        client_id: url.as_str().to_owned(),
        client_name: reg.client_name,
        redirect_uris: reg.redirect_uris,
        auth_method: AuthMethod::None,
        secret_hash: None,
        created_at: 0,
        metadata: reg.metadata,
    };
    Ok((client, ttl))
}

/// The client a metadata-document `client_id` names: fetched, validated and cached in the store.
/// `Ok(None)` when `client_id` is not a document URL.
pub async fn resolve(store: &Store, client_id: &str, allow_loopback: bool) -> Result<Option<Client>, ResolveError> {
    let Some(url) = document_url(client_id, allow_loopback) else {
        return Ok(None);
    };
    let (mut client, ttl) = fetch(&url, allow_loopback).await.map_err(ResolveError::Document)?;
    let now = store.clock().now();
    client.created_at = now;
    let mut item = typed::item(super::key(client_id), &client).map_err(ResolveError::Store)?;
    item.expires_at = Some(now + ttl);
    store.put(Table::Clients, item).await.map_err(ResolveError::Store)?;
    tracing::info!(event = "client_metadata_document_fetched", client_id, ttl);
    Ok(Some(client))
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Document(DocumentError),
    #[error(transparent)]
    Store(StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_are_https_urls_with_a_path() {
        assert!(is_document_id("https://app.example.com/oauth/client.json", false));
        assert!(!is_document_id("https://app.example.com/", false));
        assert!(!is_document_id("https://app.example.com", false));
        assert!(!is_document_id("http://app.example.com/client.json", false));
        assert!(!is_document_id("https://10.0.0.1/client.json", false));
        assert!(!is_document_id("https://app.example.com/client.json#x", false));
        assert!(!is_document_id("https://user@app.example.com/client.json", false));
        assert!(
            !is_document_id("https://APP.example.com/client.json", false),
            "not in canonical form"
        );
        assert!(!is_document_id("a1b2c3", false));
    }

    #[test]
    fn loopback_documents_only_when_allowed() {
        assert!(!is_document_id("http://localhost:8080/client.json", false));
        assert!(is_document_id("http://localhost:8080/client.json", true));
        assert!(is_document_id("http://127.0.0.1:8080/client.json", true));
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
        ] {
            assert!(!public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn cache_lifetime_follows_max_age_within_bounds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(cache_seconds(&h), DEFAULT_CACHE);
        h.insert(reqwest::header::CACHE_CONTROL, "public, max-age=10".parse().unwrap());
        assert_eq!(cache_seconds(&h), MIN_CACHE);
        h.insert(reqwest::header::CACHE_CONTROL, "max-age=999999".parse().unwrap());
        assert_eq!(cache_seconds(&h), MAX_CACHE);
    }
}
