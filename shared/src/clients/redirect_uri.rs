//! Which redirect URIs a client may register, and when a presented `redirect_uri` matches a
//! registered one.
//!
//! Registration accepts three kinds (OAuth 2.1, RFC 8252):
//! - `https` with a host (web clients);
//! - `http` only on a loopback host — `localhost`, `127.0.0.1` or `[::1]` — for native apps that
//!   listen on a local port;
//! - a private-use scheme for native apps, from an allow-list (RFC 9700 §4.11.2: a denylist of
//!   schemes always misses one — `view-source:`, `jar:`, `search-ms:`, `ms-msdt:` …): either in
//!   reverse-domain form, with at least one dot (`com.example.app:/callback`, RFC 8252 §7.1), or
//!   one of the few single-label schemes that widely used MCP clients register ([`APP_SCHEMES`]:
//!   `cursor://…`, `vscode://…`, `claude://…`).
//!
//! None may carry a fragment (RFC 6749 §3.1.2), a user name or password, whitespace or control
//! characters.
//!
//! Matching is an exact string comparison (OAuth 2.1, RFC 9700 §2.1), with one relaxation:
//! a registered loopback `http` URI matches any port (RFC 8252 §7.3), because a native app picks
//! a free port at run time.
//!
//! Not for: deciding what to do with a mismatch (the authorize endpoint must then show an error
//! page and never redirect).

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Longest redirect URI accepted.
pub const MAX_LEN: usize = 2000;

/// Single-label private-use schemes that real MCP clients register, each claimed by one desktop
/// app that hands the URL to its own OAuth handler. Anything else single-label (`chrome:`,
/// `jar:`, `ms-officecmd:` …) may be a browser- or OS-internal handler, and is refused.
pub const APP_SCHEMES: &[&str] = &[
    "claude",          // Claude Desktop
    "cursor",          // Cursor
    "vscode",          // Visual Studio Code
    "vscode-insiders", // Visual Studio Code Insiders
    "vscodium",        // VSCodium
    "windsurf",        // Windsurf
    "zed",             // Zed
];

/// Loopback hosts as they must be written for the any-port rule to apply.
const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// Why a redirect URI cannot be registered; the text completes "redirect_uri \"…\" …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("contains whitespace or control characters")]
    Whitespace,
    #[error("is not an absolute URI ({0})")]
    NotAbsolute(String),
    #[error("has a fragment, which redirect URIs must not have (RFC 6749 §3.1.2)")]
    Fragment,
    #[error("contains a user name or password")]
    Userinfo,
    #[error("has no host")]
    NoHost,
    #[error("uses http on a host other than localhost, 127.0.0.1 or [::1]; use https")]
    InsecureHttp,
    #[error(
        "uses the {0}: scheme; use https, http on a loopback host, or a reverse-domain private-use scheme such as com.example.app: (RFC 8252 §7.1)"
    )]
    ForbiddenScheme(String),
    #[error("uses the {0}: scheme; only https (or http on a loopback host) is allowed here")]
    NotWeb(String),
}

/// True for a loopback host: `localhost`, 127.0.0.1 or ::1.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// Checks that `uri` may be registered as a redirect URI.
pub fn check(uri: &str) -> Result<(), Rejected> {
    let url = parse(uri)?;
    match url.scheme() {
        "https" | "http" => check_web(&url),
        scheme if is_private_use(scheme) => Ok(()),
        scheme => Err(Rejected::ForbiddenScheme(scheme.to_owned())),
    }
}

/// A private-use scheme we redirect to: reverse-domain (labels separated by dots, none empty),
/// or one of [`APP_SCHEMES`]. The URL parser has already lower-cased the scheme.
pub fn is_private_use(scheme: &str) -> bool {
    let reverse_domain = scheme.contains('.') && scheme.split('.').all(|label| !label.is_empty());
    reverse_domain || APP_SCHEMES.contains(&scheme)
}

/// Checks a `client_uri`, `logo_uri` or similar link: https, or http on loopback.
pub fn check_web_url(uri: &str) -> Result<(), Rejected> {
    check_web(&parse(uri)?)
}

/// Parses an absolute URI with no fragment, user name, password, whitespace or control characters.
fn parse(uri: &str) -> Result<Url, Rejected> {
    if uri.len() > MAX_LEN {
        return Err(Rejected::TooLong);
    }
    // The URL parser silently drops tabs and newlines and trims spaces, so what it checked would
    // not be the string that is stored and later redirected to.
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Rejected::Whitespace);
    }
    let url = Url::parse(uri).map_err(|e| Rejected::NotAbsolute(e.to_string()))?;
    if url.fragment().is_some() {
        return Err(Rejected::Fragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Rejected::Userinfo);
    }
    Ok(url)
}

/// https with a host, or http on a loopback host.
fn check_web(url: &Url) -> Result<(), Rejected> {
    match url.scheme() {
        "https" if url.host_str().is_none_or(str::is_empty) => Err(Rejected::NoHost),
        "https" => Ok(()),
        // Plain http would expose the code on the network; on loopback it never leaves the device.
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Rejected::InsecureHttp),
        other => Err(Rejected::NotWeb(other.to_owned())),
    }
}

/// A loopback http URI split around its port: (host as written, everything after the port).
/// None unless the URL parser agrees that the host is that loopback host, so no trick in the
/// rest (an `@`, a backslash) can move the real destination elsewhere.
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let after_scheme = uri.strip_prefix("http://")?;
    let host_end = if after_scheme.starts_with('[') {
        after_scheme.find(']')? + 1
    } else {
        after_scheme
            .find([':', '/', '?', '#', '\\', '@'])
            .unwrap_or(after_scheme.len())
    };
    let (host, tail) = after_scheme.split_at(host_end);
    if !LOOPBACK_HOSTS.contains(&host) {
        return None;
    }
    let rest = match tail.strip_prefix(':') {
        Some(port_and_rest) => port_and_rest.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => tail,
    };
    let url = Url::parse(uri).ok()?;
    let agrees = url.scheme() == "http"
        && is_loopback(&url)
        && url.username().is_empty()
        && url.password().is_none()
        && rest.chars().next().is_none_or(|c| matches!(c, '/' | '?' | '#'));
    agrees.then_some((host, rest))
}

/// Whether `presented` matches the `registered` redirect URI: exactly, or for a loopback http
/// URI, exactly but for the port.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(presented)) {
        (Some(r), Some(p)) => r == p,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_parts_split_off_the_port() {
        assert_eq!(
            loopback_parts("http://127.0.0.1:8080/cb?x=1"),
            Some(("127.0.0.1", "/cb?x=1"))
        );
        assert_eq!(loopback_parts("http://[::1]/cb"), Some(("[::1]", "/cb")));
        assert_eq!(loopback_parts("http://localhost"), Some(("localhost", "")));
        assert_eq!(loopback_parts("http://localhost:80@evil.example/cb"), None);
        assert_eq!(loopback_parts("https://localhost:80/cb"), None);
        assert_eq!(loopback_parts("http://localhost.evil.example/cb"), None);
    }

    #[test]
    fn only_allow_listed_private_use_schemes_may_be_registered() {
        for ok in [
            "com.example.app:/callback",
            "cursor://anysphere.cursor-retrieval/oauth/user-server/callback",
            "vscode-insiders://vscode.github-authentication/did-authenticate",
            "windsurf://codeium.windsurf/cb",
            "zed://oauth/cb",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "view-source:https://evil.example/",
            "jar:https://evil.example/x.jar!/",
            "chrome://settings",
            "search-ms:query=x",
            "ms-officecmd:x",
            "ms-msdt:/id",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "ws://evil.example/",
            "myapp:/cb",
            "com..example:/cb",
            ".example:/cb",
        ] {
            assert!(
                matches!(check(bad), Err(Rejected::ForbiddenScheme(_) | Rejected::NotAbsolute(_))),
                "{bad}"
            );
        }
    }
}
