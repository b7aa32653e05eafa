//! Client ID Metadata Documents (MCP 2025-11-25; draft-ietf-oauth-client-id-metadata-document):
//! a client whose `client_id` is an https URL needs no registration. We fetch the JSON document
//! at that URL, check that it names itself as that `client_id`, validate it like a registration,
//! and keep it in the clients table for a while (its cache lifetime, bounded) so later requests
//! cost one store read, as for registered clients.
//!
//! Cache lifetime: `max-age` within [`MIN_CACHE`] s to one day, an hour without one.
//! `Cache-Control: no-store` or `no-cache` keeps the document for [`MIN_CACHE`] s only, and only
//! to bound how often strangers can make us fetch: the document is still refetched after that
//! minute, not kept for the default hour.
//!
//! Fetches are also bounded in memory (see `guard`): a document that failed is answered from a
//! negative cache for a minute, and each origin may cause a bounded number of fetches a minute.
//! The revocation endpoint never fetches a document (see `clients::authenticate_without_fetch`).
//! A `private_key_jwt` client's `jwks_uri` is fetched through the same guarded client and
//! budgets ([`fetch_guarded_json`], used by `clients::assertion`).
//!
//! Fetching a URL a stranger chose is a server-side request forgery risk, so: https only, a
//! domain name (never an IP literal), addresses that resolve to private, loopback or link-local
//! ranges refused, no redirects, a 3 s deadline and a 5 KiB body limit. Such clients are public
//! (`token_endpoint_auth_method: none`) or authenticate with their keys (`private_key_jwt` with
//! `jwks` or `jwks_uri`, see `clients::assertion`), and must then do so at the token endpoint.
//! A document cannot share a secret, so `client_secret_basic` and `client_secret_post` are refused.
//!
//! Addresses refused: every non-global block of the IANA special-purpose registries (see
//! [`public`]), and a proxy is never used, since a proxy would resolve the name itself.
//!
//! `CIMD_ALLOW_LOOPBACK=1` (local development and tests only; refused in Lambda) also accepts
//! `http://localhost:<port>/…` and `http://127.0.0.1:<port>/…` documents.

mod guard;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::Client;
use crate::clients::metadata;
use crate::store::{Store, StoreError, Table, typed};

/// Largest metadata document read.
pub const MAX_DOCUMENT: usize = 5 * 1024;
/// Bounds on how long a fetched document is reused. The minimum also applies to `no-store` and
/// `no-cache`: it bounds the fetch rate, and a minute-old document is still the client's.
const MIN_CACHE: i64 = 60;
const MAX_CACHE: i64 = 86_400;
const DEFAULT_CACHE: i64 = 3600;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocumentError {
    #[error("the client's metadata document could not be fetched")]
    Unreachable,
    #[error("the client's metadata document is not valid: {0}")]
    Invalid(String),
    #[error("too many metadata documents were fetched from this client's host just now; try again in a minute")]
    Throttled,
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

/// Refuses addresses no public document can live at: every block of the IANA IPv4 and IPv6
/// Special-Purpose Address Registries (RFC 6890) that is not globally reachable, the relay and
/// translation prefixes that embed an IPv4 address (6to4, Teredo, NAT64, IPv4-compatible), and
/// multicast and reserved space. A listed block that IANA marks globally reachable (such as
/// 192.0.0.9/32) is refused too: no metadata document needs one.
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(a == 0 // 0.0.0.0/8, "this network"
                || a == 10 // 10/8, private
                || a == 100 && (b & 0xc0) == 64 // 100.64/10, carrier-grade NAT
                || a == 127 // 127/8, loopback
                || a == 169 && b == 254 // 169.254/16, link local
                || a == 172 && (b & 0xf0) == 16 // 172.16/12, private
                || a == 192 && b == 0 && c == 0 // 192.0.0/24, IETF protocol assignments
                || a == 192 && b == 0 && c == 2 // 192.0.2/24, documentation
                || a == 192 && b == 88 && c == 99 // 192.88.99/24, deprecated 6to4 relay anycast
                || a == 192 && b == 168 // 192.168/16, private
                || a == 198 && (b & 0xfe) == 18 // 198.18/15, benchmarking
                || a == 198 && b == 51 && c == 100 // 198.51.100/24, documentation
                || a == 203 && b == 0 && c == 113 // 203.0.113/24, documentation
                || a >= 224) // 224/4 multicast, 240/4 reserved, 255.255.255.255 broadcast
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let top = u128::from(v6);
            // Whether `top` lies in the prefix `net`/`len`.
            let within = |net: u128, len: u32| top >> (128 - len) == net >> (128 - len);
            !(within(0, 96) // ::/96: unspecified, loopback and IPv4-compatible (deprecated)
                || v6.to_ipv4_mapped().is_some_and(|v4| !public(IpAddr::V4(v4))) // ::ffff:0:0/96
                || within(0x0064_ff9b << 96, 96) // 64:ff9b::/96, NAT64 well-known prefix
                || within(0x0064_ff9b_0001 << 80, 48) // 64:ff9b:1::/48, local-use NAT64
                || within(0x0100 << 112, 64) // 100::/64, discard-only
                || seg[0] == 0x2001 && seg[1] < 0x0200 // 2001::/23, IETF protocol assignments (Teredo 2001::/32 in it)
                || seg[0] == 0x2001 && seg[1] == 0x0db8 // 2001:db8::/32, documentation
                || seg[0] == 0x2002 // 2002::/16, 6to4: reaches whatever IPv4 address it embeds
                || seg[0] == 0x3fff && seg[1] < 0x1000 // 3fff::/20, documentation
                || seg[0] == 0x5f00 // 5f00::/16, segment routing SIDs
                || (seg[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local
                || (seg[0] & 0xffc0) == 0xfe80 // fe80::/10, link local
                || (seg[0] & 0xffc0) == 0xfec0 // fec0::/10, site local (deprecated)
                || (seg[0] & 0xff00) == 0xff00) // ff00::/8, multicast
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
        // A proxy would resolve the name itself, so the public-address resolver would never run.
        .no_proxy()
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
    let directives: Vec<String> = headers
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    if directives.iter().any(|d| d == "no-store" || d == "no-cache") {
        return MIN_CACHE;
    }
    let max_age = directives
        .iter()
        .find_map(|d| d.strip_prefix("max-age=")?.parse::<i64>().ok());
    max_age.unwrap_or(DEFAULT_CACHE).clamp(MIN_CACHE, MAX_CACHE)
}

/// GETs the JSON at `url` through the guarded client (no proxy, public addresses only, no
/// redirects, short deadlines), reading at most `max` bytes; returns it with its cache lifetime.
async fn get_json(url: &Url, allow_loopback: bool, max: usize) -> Result<(Value, i64), DocumentError> {
    let mut res = http(allow_loopback)
        .get(url.as_str())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| DocumentError::Unreachable)?;
    // A redirect (3xx) is not followed and counts as unreachable, like any other failure.
    if !res.status().is_success() {
        return Err(DocumentError::Unreachable);
    }
    let ttl = cache_seconds(res.headers());
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|_| DocumentError::Unreachable)? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(DocumentError::Invalid(format!("larger than {max} bytes")));
        }
    }
    let doc = serde_json::from_slice(&body).map_err(|e| DocumentError::Invalid(format!("not JSON: {e}")))?;
    Ok((doc, ttl))
}

/// Fetches JSON a client named (its `jwks_uri`) under the same rules as a metadata document: the
/// URL must pass [`is_document_id`]'s test, the origin's fetch budget and negative cache apply.
/// Returns the JSON and its cache lifetime in seconds.
pub async fn fetch_guarded_json(
    uri: &str,
    allow_loopback: bool,
    max: usize,
    now: i64,
) -> Result<(Value, i64), DocumentError> {
    let url = document_url(uri, allow_loopback).ok_or(DocumentError::Unreachable)?;
    if let Some(e) = guard::remembered_failure(url.as_str(), now) {
        return Err(e);
    }
    if !guard::may_fetch(&url.origin().ascii_serialization(), now) {
        return Err(DocumentError::Throttled);
    }
    get_json(&url, allow_loopback, max).await.inspect_err(|e| {
        guard::remember_failure(url.as_str(), e, now);
    })
}

/// Fetches and validates the document at `url`.
async fn fetch(url: &Url, allow_loopback: bool) -> Result<(Client, i64), DocumentError> {
    let (doc, ttl) = get_json(url, allow_loopback, MAX_DOCUMENT).await?;
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
    if reg.auth_method.uses_secret() {
        return Err(DocumentError::Invalid(
            "a metadata document client authenticates with none or private_key_jwt, never a shared secret".into(),
        ));
    }
    let client = Client {
        client_id: url.as_str().to_owned(),
        client_name: reg.client_name,
        redirect_uris: reg.redirect_uris,
        auth_method: reg.auth_method,
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
    let now = store.clock().now();
    if let Some(e) = guard::remembered_failure(url.as_str(), now) {
        return Err(ResolveError::Document(e));
    }
    if !guard::may_fetch(&url.origin().ascii_serialization(), now) {
        tracing::warn!(event = "client_metadata_document_throttled", client_id);
        return Err(ResolveError::Document(DocumentError::Throttled));
    }
    let (mut client, ttl) = match fetch(&url, allow_loopback).await {
        Ok(fetched) => fetched,
        Err(e) => {
            guard::remember_failure(url.as_str(), &e, now);
            return Err(ResolveError::Document(e));
        }
    };
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

    /// Each block of the IANA special-purpose registries, by its first and last address, with the
    /// public neighbours just outside it where that neighbour is ordinary unicast space.
    #[test]
    fn every_special_purpose_range_is_not_public() {
        for (block, first, last) in [
            ("0.0.0.0/8", "0.0.0.1", "0.255.255.255"),
            ("10.0.0.0/8", "10.0.0.0", "10.255.255.255"),
            ("100.64.0.0/10", "100.64.0.0", "100.127.255.255"),
            ("127.0.0.0/8", "127.0.0.0", "127.255.255.255"),
            ("169.254.0.0/16", "169.254.0.0", "169.254.255.255"),
            ("172.16.0.0/12", "172.16.0.0", "172.31.255.255"),
            ("192.0.0.0/24", "192.0.0.0", "192.0.0.255"),
            ("192.0.2.0/24", "192.0.2.0", "192.0.2.255"),
            ("192.88.99.0/24", "192.88.99.0", "192.88.99.255"),
            ("192.168.0.0/16", "192.168.0.0", "192.168.255.255"),
            ("198.18.0.0/15", "198.18.0.0", "198.19.255.255"),
            ("198.51.100.0/24", "198.51.100.0", "198.51.100.255"),
            ("203.0.113.0/24", "203.0.113.0", "203.0.113.255"),
            ("224.0.0.0/4", "224.0.0.0", "239.255.255.255"),
            ("240.0.0.0/4", "240.0.0.0", "255.255.255.254"),
            ("255.255.255.255/32", "255.255.255.255", "255.255.255.255"),
            ("::/96", "::", "::ffff:ffff"),
            ("::ffff:0:0/96", "::ffff:127.0.0.1", "::ffff:192.168.0.1"),
            ("64:ff9b::/96", "64:ff9b::", "64:ff9b::ffff:ffff"),
            ("64:ff9b:1::/48", "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"),
            ("100::/64", "100::", "100::ffff:ffff:ffff:ffff"),
            ("2001::/23", "2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2001::/32 (Teredo)", "2001::1", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2002::/16", "2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("3fff::/20", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("5f00::/16", "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("fc00::/7", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("fe80::/10", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("fec0::/10", "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("ff00::/8", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ] {
            assert!(!public(first.parse().unwrap()), "{block}: {first}");
            assert!(!public(last.parse().unwrap()), "{block}: {last}");
        }
        for ip in [
            "1.0.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.0",
            "192.0.1.1",
            "192.88.98.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:93.184.216.34",
            "2001:200::1",
            "2001:db9::1",
            "2003::1",
            "2606:4700::1111",
        ] {
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

    #[test]
    fn no_store_and_no_cache_keep_a_document_only_the_minimum() {
        for value in ["no-store", "public, No-Cache", "max-age=3600, no-store"] {
            let mut h = reqwest::header::HeaderMap::new();
            h.insert(reqwest::header::CACHE_CONTROL, value.parse().unwrap());
            assert_eq!(cache_seconds(&h), MIN_CACHE, "{value}");
        }
        assert_eq!(MIN_CACHE, 60);
    }
}
